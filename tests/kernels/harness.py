"""One harness for every kernel, as RapidFuzz's tests/common.py is for its scorers.

A `Kernel` lists its implementations: the impdist paths (the CPU build; the CUDA build where it
exists and a GPU is visible; the two SHA-1 code paths) and the independent reference (rouge-score,
sacrebleu, datasketch, fast-bleu, NLTK, hashlib, or the textbook definition). `check` runs every
path on the same inputs and demands bit-identical results, or the same exception (type and
message) from each; a result is then compared with the reference (within the kernel's tolerance),
an exception must be one of impdist.errors' classes and is raised to the caller. Inputs the
reference does not define (bad arguments, huge texts) are compared across the paths only.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import sacrebleu
from datasketch import LeanMinHash, MinHash, MinHashLSH
from fast_bleu import BLEU, SelfBLEU
from nltk.stem.porter import PorterStemmer
from rouge_score import rouge_scorer

from impdist import kernels
from impdist.errors import ImpdistError
from impdist.kernels import _core
from tests.conftest import record

CUDA = kernels.cuda_available()  # tests may set it (see fake_cuda in tests/kernels/test_bad_input.py)


@dataclass(frozen=True)
class Kernel:
    """A kernel's implementations. `run(path, *args, **options)` is one impdist path's raw output
    (integer statistics where the kernel has them, so the paths must agree bit for bit);
    `score(raw, **options)` turns it into the reference's terms; `compare(ours, theirs)` asserts
    they agree."""

    name: str
    run: Callable[..., Any]
    reference: Callable[..., Any] | None
    compare: Callable[[Any, Any], None]
    score: Callable[..., Any] = lambda raw, **options: raw
    paths: tuple[str, ...] = ("cpu",)
    label: Callable[..., str] | None = None  # parity counter name from the options (default: name)

    def usable_paths(self) -> tuple[str, ...]:
        return tuple(p for p in self.paths if p != "cuda" or CUDA)


@dataclass
class Outcome:
    value: Any = None
    error: Exception | None = None


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """What fn(*args, **kwargs) gave: a value or an exception."""
    try:
        return Outcome(value=fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - every exception is an outcome to compare
        return Outcome(error=exc)


def assert_identical(a: Any, b: Any, what: str) -> None:
    """Bit-identical results: arrays of one dtype and shape, or equal Python values of one type."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{what}: ndarray vs {type(b).__name__}"
        assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{what}: values differ"
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b), f"{what}: keys {list(a)} vs {b!r:.80}"
        for k in a:
            assert_identical(a[k], b[k], f"{what}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), f"{what}: {type(a).__name__}/{len(a)} vs {b!r:.80}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{what}[{i}]")
    else:
        assert type(a) is type(b) and a == b, f"{what}: {a!r} vs {b!r}"


def _assert_same_outcome(kernel: Kernel, path_a: str, a: Outcome, path_b: str, b: Outcome) -> None:
    what = f"{kernel.name}: {path_a} vs {path_b}"
    if a.error is None and b.error is None:
        assert_identical(a.value, b.value, what)
        return
    assert a.error is not None and b.error is not None, (
        f"{what}: one raised, the other did not: {a.error or a.value!r:.200} / {b.error or b.value!r:.200}")
    assert (type(a.error), str(a.error)) == (type(b.error), str(b.error)), (
        f"{what}: different exceptions: {type(a.error).__name__}({a.error}) / {type(b.error).__name__}({b.error})")


def check(kernel: Kernel, *args: Any, tag: str | None = None, reference: bool = True, **options: Any) -> Any:
    """Run every usable path of `kernel` on args/options and demand the same outcome of all; then
    compare the result with the reference (unless reference=False) and count it for the parity
    report, or raise the paths' exception (which must be an impdist.errors class). Returns our
    result, scored."""
    paths = kernel.usable_paths()
    outcomes = {path: outcome(kernel.run, path, *args, **options) for path in paths}
    first = outcomes[paths[0]]
    for path in paths[1:]:
        _assert_same_outcome(kernel, paths[0], first, path, outcomes[path])
    if first.error is not None:
        assert isinstance(first.error, ImpdistError), (
            f"{kernel.name}: bad input raised {type(first.error).__name__}, not an impdist.errors class: {first.error}")
        raise first.error
    ours = kernel.score(first.value, **options)
    label = kernel.label(**options) if kernel.label else kernel.name
    label = f"{label}:{tag}" if tag else label
    if reference and kernel.reference is not None:
        kernel.compare(ours, kernel.reference(*args, **options))
        record(label, len(args[0]))
    for path in paths[1:]:
        record(f"{path}:{label}", len(args[0]))
    return ours


# --- comparisons with the references -------------------------------------------------------------

def close(atol: float) -> Callable[[Any, Any], None]:
    """Floats equal to the reference's within atol (rtol 0), same shape."""
    def compare(ours: Any, theirs: Any) -> None:
        np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=0, atol=atol)
    return compare


def exactly(ours: Any, theirs: Any) -> None:
    """Bit-identical to the reference: same dtype, same values."""
    assert_identical(ours, theirs, "ours vs the reference")


def same_items(ours: Sequence, theirs: Sequence) -> None:
    """Equal lists, with the first differing items in the message."""
    assert len(ours) == len(theirs)
    bad = [(i, o[:80], t[:80]) for i, (o, t) in enumerate(zip(ours, theirs)) if o != t]
    assert not bad, f"{len(bad)} of {len(ours)} differ (index, ours, reference): {bad[:20]}"


# --- the references -------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _rouge_scorer(kind: str, stem: bool) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer([kind], use_stemmer=stem)


def ref_rouge(cands: Sequence[str], refs: Sequence[str], kind: str = "rougeL", stem: bool = False,
              **_: Any) -> np.ndarray:
    """rouge-score's (precision, recall, F) per pair; it takes the reference first."""
    scorer = _rouge_scorer(kind, stem)
    return np.array([tuple(scorer.score(r, c)[kind]) for c, r in zip(cands, refs)], dtype=float).reshape(-1, 3)


def ref_rouge_multi(cands: Sequence[str], refs: Sequence[str], kinds: Sequence[str] = ("rouge1", "rouge2", "rougeL"),
                    stem: bool = False, **_: Any) -> dict[str, np.ndarray]:
    """rouge-score's scores of several types from one RougeScorer, as rouge_multi returns them."""
    scorer = rouge_scorer.RougeScorer(list(kinds), use_stemmer=stem)
    scores = [scorer.score(r, c) for c, r in zip(cands, refs)]
    return {k: np.array([tuple(s[k]) for s in scores], dtype=float).reshape(-1, 3) for k in dict.fromkeys(kinds)}


def same_keys_close(atol: float) -> Callable[[Any, Any], None]:
    """Dicts of float arrays with the same keys in the same order, each within atol of the other's."""
    def compare(ours: Any, theirs: Any) -> None:
        assert list(ours) == list(theirs)
        for k in ours:
            np.testing.assert_allclose(ours[k], theirs[k], rtol=0, atol=atol, err_msg=k)
    return compare


def _ref_lists(refs: Sequence[str | Sequence[str]]) -> list[list[str]]:
    return [[r] if isinstance(r, str) else list(r) for r in refs]


def ref_sentence_bleu(hyps: Sequence[str], refs: Sequence[str | Sequence[str]], **_: Any) -> np.ndarray:
    return np.array([sacrebleu.sentence_bleu(h, r).score for h, r in zip(hyps, _ref_lists(refs))], dtype=float)


def ref_corpus_bleu(hyps: Sequence[str], refs: Sequence[str | Sequence[str]], **_: Any) -> float:
    """sacrebleu's corpus BLEU; it takes reference streams, so every hypothesis needs as many."""
    return sacrebleu.corpus_bleu(list(hyps), [list(s) for s in zip(*_ref_lists(refs))]).score


def ref_minhash(texts: Sequence[str], num_perm: int = 128, seed: int = 1, shingle: Any = "word",
                scheme: str = "affine32", **_: Any) -> np.ndarray:
    rows = []
    for t in texts:
        m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        m.update_batch([s.encode("utf-8") for s in kernels.shingles(t, shingle)])
        rows.append(m.hashvalues)
    dtype = MinHash(num_perm=num_perm, seed=seed, scheme=scheme).hashvalues.dtype
    return np.array(rows, dtype=dtype).reshape(len(texts), num_perm)


def ref_near_duplicates(sig: np.ndarray, threshold: float, bands: int, rows: int, **_: Any) -> np.ndarray:
    """datasketch's MinHashLSH in input order: query the kept rows, verify the Jaccard estimate,
    insert when nothing matched (impdist.filters.dedup's reference backend does the same)."""
    lsh = MinHashLSH(num_perm=sig.shape[1], params=(bands, rows))
    scheme = "affine32" if sig.dtype == np.uint32 else "affine64"
    sketches = [LeanMinHash(seed=1, hashvalues=row, scheme=scheme) for row in sig]
    drop = np.zeros(len(sig), dtype=bool)
    for i, m in enumerate(sketches):
        if any(m.jaccard(sketches[j]) >= threshold for j in lsh.query(m)):
            drop[i] = True
        else:
            lsh.insert(i, m, check_duplication=False)
    return drop


def _bleu_weights(max_n: int) -> dict[int, tuple[float, ...]]:
    return {max_n: tuple(1.0 / max_n for _ in range(max_n))}


def ref_leave_one_out(sents: Sequence[str], max_n: int = 4, indices: Sequence[int] | None = None) -> np.ndarray:
    """fast-bleu's BLEU of each sentence against all the others, one reference set at a time.

    fast-bleu's SelfBLEU gives the same numbers but reads one reference length past the end of
    an array (self_bleu.cpp passes number_of_refs with an array of number_of_refs - 1), so its
    result can change from run to run; its BLEU class has no such read.
    """
    toks = [s.split() for s in sents]
    out = []
    for i in range(len(sents)) if indices is None else indices:
        others = toks[:i] + toks[i + 1:]
        out.append(BLEU(others, _bleu_weights(max_n)).get_score([toks[i]])[max_n][0])
    return np.array(out)


def ref_self_bleu(sents: Sequence[str], max_n: int = 4, **_: Any) -> np.ndarray:
    """fast-bleu's SelfBLEU (fast on large corpora); the entries where it differs from ours, which
    its out-of-bounds read may have spoiled, are recomputed exactly with ref_leave_one_out."""
    fast = np.array(SelfBLEU([s.split() for s in sents], _bleu_weights(max_n)).get_score()[max_n])
    differ = np.flatnonzero(np.abs(fast - kernels.self_bleu(sents, max_n=max_n)) > 1e-9)
    if len(differ):
        fast[differ] = ref_leave_one_out(sents, max_n, differ)
    return fast


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def ref_distinct_n(sents: Sequence[str], n: int = 2, **_: Any) -> float:
    """Distinct n-grams over all n-grams of the corpus (Li et al., 2016), on str.split() tokens."""
    grams = [g for s in sents for g in ngrams(s.split(), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def ref_ngram_jaccard(a: Sequence[str], b: Sequence[str], n: int = 1, **_: Any) -> list[float]:
    """|A & B| / |A | B| of the n-gram sets of each pair; 0 when both are empty."""
    out = []
    for x, y in zip(a, b):
        sa, sb = set(ngrams(x.split(), n)), set(ngrams(y.split(), n))
        out.append(len(sa & sb) / len(sa | sb) if sa | sb else 0.0)
    return out


_NLTK = PorterStemmer()  # rouge-score's stemmer: PorterStemmer() in mode NLTK_EXTENSIONS


def ref_porter_stem(words: Sequence[str]) -> list[str]:
    return [_NLTK.stem(w) for w in words]


def ref_sha1(blobs: Sequence[bytes]) -> list[bytes]:
    return [hashlib.sha1(b).digest() for b in blobs]


def _digests(words: np.ndarray) -> list[bytes]:
    """_core.sha1's (n, 5) big-endian uint32 words as 20-byte digests."""
    return [b"".join(int(w).to_bytes(4, "big") for w in row) for row in words]


# --- the kernels ----------------------------------------------------------------------------------

ROUGE = Kernel(
    "rouge",
    run=lambda path, cands, refs, **o: kernels.rouge_stats(cands, refs, device=path, **o),
    score=lambda stats, kind="rougeL", **_: kernels.rouge_from_stats(stats, kind),
    reference=ref_rouge, compare=close(1e-9), paths=("cpu", "cuda"),
    label=lambda kind="rougeL", stem=False, **_: f"rouge:{kind}{':stem' if stem else ''}",
)
ROUGE_MULTI = Kernel(
    "rouge_multi",
    run=lambda path, cands, refs, **o: kernels.rouge_multi(cands, refs, device=path, **o),
    reference=ref_rouge_multi, compare=same_keys_close(1e-9), paths=("cpu", "cuda"),
)
SENTENCE_BLEU = Kernel(
    "sentence_bleu",
    run=lambda path, hyps, refs, **o: kernels.bleu_stats(hyps, refs, device=path, **o),
    score=lambda stats, **_: kernels.bleu_from_stats(stats, effective_order=True),
    reference=ref_sentence_bleu, compare=close(1e-9), paths=("cpu", "cuda"),
)
CORPUS_BLEU = Kernel(
    "corpus_bleu",
    run=lambda path, hyps, refs, **o: kernels.corpus_bleu(hyps, refs, device=path, **o),
    reference=ref_corpus_bleu, compare=close(1e-9), paths=("cpu", "cuda"),
)
MINHASH = Kernel(
    "minhash",
    run=lambda path, texts, **o: kernels.minhash(texts, device=path, **o),
    reference=ref_minhash, compare=exactly, paths=("cpu", "cuda"),
)
NEAR_DUPLICATES = Kernel(
    "near_duplicates",
    run=lambda path, sig, **o: kernels.near_duplicates(sig, **o),
    reference=ref_near_duplicates, compare=exactly,
)
SELF_BLEU = Kernel(
    "self_bleu",
    run=lambda path, sents, **o: kernels.self_bleu(sents, **o),
    reference=ref_self_bleu, compare=close(1e-9),
)
DISTINCT_N = Kernel(
    "distinct_n",
    run=lambda path, sents, **o: kernels.distinct_n(sents, **o),
    reference=ref_distinct_n, compare=close(1e-12),
)
NGRAM_JACCARD = Kernel(
    "ngram_jaccard",
    run=lambda path, a, b, **o: kernels.ngram_jaccard(a, b, **o),
    reference=ref_ngram_jaccard, compare=close(1e-12),
)
PORTER_STEM = Kernel(
    "porter_stem",
    run=lambda path, words: _core.porter_stem(words),
    reference=ref_porter_stem, compare=same_items,
)
SHA1 = Kernel(  # MinHash's hash: the SHA-NI code path (where the CPU has it) and the portable one
    "sha1",
    run=lambda path, blobs: _core.sha1(blobs, path == "sha-ni"),
    score=lambda words: _digests(words),
    reference=ref_sha1, compare=same_items, paths=("sha-ni", "portable"),
)
KERNELS = (ROUGE, ROUGE_MULTI, SENTENCE_BLEU, CORPUS_BLEU, MINHASH, NEAR_DUPLICATES, SELF_BLEU, DISTINCT_N, NGRAM_JACCARD,
           PORTER_STEM, SHA1)
