"""Every public impdist.kernels function on fixed inputs, printed as JSON (floats as repr).

tests/install/check_wheel.sh runs this under each install of impdist (the built wheel in a fresh
venv, `pip install .`, the editable dev install) and compares the outputs byte for byte. Not a
pytest module (no test_ prefix); run it as `python tests/install/kernel_numbers.py > out.json`.
It reads no files: the sentences come from a seeded generator, with non-ASCII and empty texts.
"""
from __future__ import annotations

import json
import random
import sys
import warnings

import numpy as np

import impdist
import impdist.kernels as K

# Public names that are not numbers to compare: a result type, and whether a GPU is visible here.
NOT_COMPUTED = {"Score", "cuda_available"}

WORDS = (
    "the a cat sat on mat dog ran fast slowly over under bank river money said that it is was "
    "and or but not 3 42 1,000 3.14 U.S. don't it's well-known e-mail (see) [1] , . ; : ! ? \" '"
).split()
# Non-ASCII letters (rouge-score drops them, BLEU and split() keep them), other scripts, emoji,
# combining marks and odd whitespace.
UNICODE = ["café", "naïve", "Zürich", "straße", "Ελλάδα", "Москва", "東京", "日本語", "😀", "🇫🇷", "e\u0301",
           "ﬁ", "İstanbul", "ǅ", "½", "\u00a0", "x\u200by"]
FIXED = ["", " ", "\t\n", "the", "the cat", "The Cat SAT", "the cat sat on the mat", "café café",
         "東京 東京 東京", "a a a a a a a a", "It's 1,000 U.S. dollars - isn't it?"]


def sentences(rng: random.Random, n: int) -> list[str]:
    out = list(FIXED)
    while len(out) < n:
        pool = UNICODE + WORDS * 4 if rng.random() < 0.3 else WORDS
        k = rng.choice((0, 1, 2, 3, 5, 8, 13, 21, 34))
        sep = rng.choice((" ", " ", " ", "  ", "\t"))
        out.append(sep.join(rng.choice(pool) for _ in range(k)))
    return out[:n]


def plain(value):
    """numpy values and tuples to JSON-able Python values (float repr is what json writes)."""
    if isinstance(value, np.ndarray):
        return {"dtype": str(value.dtype), "shape": list(value.shape), "values": value.tolist()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def call(fn, *args, **kwargs):
    """The result, the warnings it gave, or the error it raised: all of them are behaviour to compare."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = {"value": plain(fn(*args, **kwargs))}
        except Exception as exc:  # noqa: BLE001 - the error is part of the answer
            result = {"error": f"{type(exc).__name__}: {exc}"}
    if caught:
        result["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    return result


def main() -> None:
    warnings.simplefilter("ignore")  # outside call(), e.g. the stats fed to *_from_stats
    rng = random.Random(20240607)
    cands = sentences(rng, 160)
    refs = sentences(rng, 160)
    rng.shuffle(refs)
    multi = [[refs[i], refs[(i * 7 + 3) % len(refs)], cands[(i + 1) % len(cands)]][: 1 + i % 3]
             for i in range(len(cands))]
    corpus = [s for s in cands if s.split()][:60]

    out: dict[str, dict] = {}
    out["rouge"] = {f"{kind}|stem={stem}": call(K.rouge, cands, refs, kind, stem)
                    for kind in ("rouge1", "rouge2", "rouge3", "rougeL", "rougeLsum") for stem in (False, True)}
    out["rouge"]["rougeL|threads=1"] = call(K.rouge, cands, refs, "rougeL", threads=1)
    out["rouge_stats"] = {kind: call(K.rouge_stats, cands, refs, kind, True) for kind in ("rouge1", "rouge2", "rougeL")}
    stats = K.rouge_stats(cands[:40], refs[:40], "rouge2")
    out["rouge_from_stats"] = {"rouge2": call(K.rouge_from_stats, stats, "rouge2"),
                               "zeros": call(K.rouge_from_stats, np.zeros((2, 3), dtype=np.int64), "rougeL")}
    out["sentence_bleu"] = {"single": call(K.sentence_bleu, cands, refs),
                            "multi": call(K.sentence_bleu, cands, multi),
                            "threads=1": call(K.sentence_bleu, cands, refs, threads=1)}
    out["corpus_bleu"] = {"single": call(K.corpus_bleu, cands, refs),
                          "multi": call(K.corpus_bleu, cands, multi),
                          "empty": call(K.corpus_bleu, [], [])}
    out["bleu_stats"] = {"multi": call(K.bleu_stats, cands, multi)}
    bstats = K.bleu_stats(cands[:40], refs[:40])
    out["bleu_from_stats"] = {f"effective_order={e}": call(K.bleu_from_stats, bstats, e) for e in (True, False)}
    out["self_bleu"] = {f"max_n={n}": call(K.self_bleu, corpus, n) for n in (1, 2, 4)}
    out["self_bleu"]["one"] = call(K.self_bleu, corpus[:1])
    out["distinct_n"] = {f"n={n}": call(K.distinct_n, cands, n) for n in (1, 2, 3, 4)}
    out["distinct_n"]["empty"] = call(K.distinct_n, ["", " "], 2)
    out["ngram_jaccard"] = {f"n={n}": call(K.ngram_jaccard, cands, refs, n) for n in (1, 2, 3)}
    out["minhash"] = {f"{scheme}|{shingle}": call(K.minhash, cands[:60], 16, 7, shingle, scheme)
                      for scheme in ("legacy", "affine32", "affine64") for shingle in ("word", 3)}
    out["minhash"]["default"] = call(K.minhash, cands[:20])
    out["rouge_multi"] = {f"stem={stem}": call(K.rouge_multi, cands, refs, ("rouge1", "rouge2", "rougeL"), stem)
                          for stem in (False, True)}
    # Near-copies of a few sentences, so the LSH both keeps and drops.
    dupes = corpus[:30] + [s + " the" for s in corpus[:15]] + corpus[5:20]
    out["near_duplicates"] = {f"threshold={t}|threads={n}": call(K.near_duplicates, K.minhash(dupes), t, 9, 13,
                                                                threads=n) for t in (0.5, 0.8) for n in (1, None)}
    out["permutations"] = {scheme: call(K.permutations, 8, 7, scheme) for scheme in ("legacy", "affine32", "affine64")}
    out["shingles"] = {f"{i}|{sh}": call(K.shingles, text, sh)
                       for i, text in enumerate(FIXED + UNICODE[:6]) for sh in ("word", 1, 4)}
    out["signature"] = {"rougeL": call(K.signature, "rougeL", stem=False),
                        "bleu": call(K.signature, "bleu", device="cuda", effective_order=True)}

    missing = sorted(set(K.__all__) - NOT_COMPUTED - set(out))
    if missing:
        raise SystemExit(f"kernel_numbers.py does not compute {missing}: add them")
    json.dump(out, sys.stdout, ensure_ascii=True, sort_keys=True, indent=1)
    sys.stdout.write("\n")
    print(f"kernel_numbers: {len(out)} kernels, impdist {impdist.__version__} from {impdist.__file__}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
