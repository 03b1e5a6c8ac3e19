"""Every lexical kernel against the fastest engine a user would pick instead, and the reference.

Two sections, each run in two lanes: all cores, and one thread (impdist's ``threads=1`` and
``OMP_NUM_THREADS=1`` beside the peers' ``RAYON_NUM_THREADS=1``; each lane is a fresh
subprocess, since a Rayon pool is sized once per process).

- peers: rensa (MinHash R-MinHash, its LSH deduplicator), rouge-score-rs (ROUGE), fast-bleu
  (sentence BLEU, self-BLEU), the ``[bench]`` extra. Each comparison runs both sides in this
  process on the same data, alternating, best of --repeat; ratio = peer time / impdist time
  (> 1: impdist is faster). A peer that is not installed is reported missing.
- refs: the reference libraries whose numbers the kernels reproduce (rouge-score, sacrebleu,
  datasketch), on the shipped MRPC pairs and a synthetic corpus.

Outputs are checked against the peer (or reference) on the timed data before a number is
reported. Prints a table per lane, then one JSON line per row.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from importlib import metadata
from typing import Callable

import numpy as np

from common import Report, best_time, read_jsonl, synthetic_corpus
from impdist import ImpdistWarning, kernels
from impdist.filters.dedup import lsh_params

THRESHOLD, NUM_PERM = 0.8, 128


def peer_version(dist: str) -> str | None:
    """The installed version of a distribution, or None when it is missing."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def race(ours: Callable[[], object], peer: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time of each side over `repeat` alternating rounds (ours, peer, ours, ...)."""
    t_ours = t_peer = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        ours()
        t_ours = min(t_ours, time.perf_counter() - start)
        start = time.perf_counter()
        peer()
        t_peer = min(t_peer, time.perf_counter() - start)
    return t_ours, t_peer


class Lane:
    """One lane's rows: the thread setting both sides run under, and the report."""

    def __init__(self, threads: int | None, repeat: int) -> None:
        self.threads, self.repeat = threads, repeat
        self.name = "1 thread" if threads == 1 else "all cores"
        self.report = Report()

    def race(self, bench: str, n: int, ours: Callable[[], object], peer: Callable[[], object],
             label: str, **extra) -> None:
        t_ours, t_peer = race(ours, peer, self.repeat)
        speedup = t_peer / t_ours  # the table's ratio column has one decimal; the label carries two
        self.report.add(bench, n, n / t_ours, n / t_peer, f"{label} [{speedup:.2f}x]", lane=self.name,
                        speedup=round(speedup, 3), ours_s=round(t_ours, 4), peer_s=round(t_peer, 4), **extra)

    def missing(self, bench: str, n: int, dist: str) -> None:
        self.report.add(bench, n, float("nan"), None, f"{dist}: not installed (pip install 'impdist[bench]')",
                        lane=self.name)


def rouge_pairs(corpus: list[str], seed: int = 1) -> tuple[list[str], list[str]]:
    """(candidate, reference) pairs: each sentence against a copy with about a fifth of its words
    dropped and a few neighbours swapped, so LCS and n-gram overlaps are neither 0 nor full."""
    rng = np.random.default_rng(seed)
    refs = []
    for s in corpus:
        w = [x for x in s.split() if rng.random() > 0.2]
        for _ in range(2):
            if len(w) > 2:
                i = int(rng.integers(0, len(w) - 1))
                w[i], w[i + 1] = w[i + 1], w[i]
        refs.append(" ".join(w))
    return corpus, refs


def with_near_duplicates(corpus: list[str], share: float = 0.2, seed: int = 2) -> list[str]:
    """The corpus with `share` of its sentences replaced by an earlier sentence with one word changed."""
    rng = np.random.default_rng(seed)
    out = list(corpus)
    for i in np.flatnonzero(rng.random(len(out)) < share):
        if i == 0:
            continue
        w = out[int(rng.integers(0, i))].split()
        w[int(rng.integers(0, len(w)))] = "zzz"
        out[i] = " ".join(w)
    return out


def peer_rows(lane: Lane, args: argparse.Namespace) -> None:
    """impdist against rouge-score-rs, fast-bleu and rensa, alternating in this process."""
    t = lane.threads
    corpus = synthetic_corpus(args.docs, seed=3)
    cands, refs = rouge_pairs(corpus[: args.pairs])

    v = peer_version("rouge-score-rs")
    for kinds in (["rougeL"], ["rouge2"], ["rouge1", "rouge2", "rougeL"]):
        bench = "+".join(kinds) if len(kinds) > 1 else kinds[0]
        if v is None:
            lane.missing(bench, len(cands), "rouge-score-rs")
            continue
        from rouge_score_rs import rouge_scorer as rs

        scorer = rs.RougeScorer(kinds)
        peer = scorer.score_batch(refs, cands)  # rouge-score's argument order: target first
        ours = kernels.rouge_multi(cands, refs, kinds, threads=t)
        for k in kinds:
            assert np.array_equal(ours[k], np.array([tuple(p[k]) for p in peer])), f"{k} differs from rouge-score-rs"
        lane.race(bench, len(cands), lambda: kernels.rouge_multi(cands, refs, kinds, threads=t),
                  lambda: scorer.score_batch(refs, cands), f"rouge-score-rs {v} score_batch",
                  agreement="identical")

    v = peer_version("fast-bleu")
    sub_c, sub_r = cands[: args.bleu_pairs], refs[: args.bleu_pairs]
    if v is None:
        lane.missing("sentence_bleu", len(sub_c), "fast-bleu")
        lane.missing("self_bleu", args.self_bleu, "fast-bleu")
    else:
        from fast_bleu import BLEU, SelfBLEU

        weights = {4: (0.25, 0.25, 0.25, 0.25)}

        def fast_bleu_sentences() -> list[float]:
            return [BLEU([r.split()], weights).get_score([c.split()])[4][0] for c, r in zip(sub_c, sub_r)]

        gap = np.abs(np.array(fast_bleu_sentences()) * 100 - kernels.sentence_bleu(sub_c, sub_r, threads=t))
        lane.race("sentence_bleu", len(sub_c), lambda: kernels.sentence_bleu(sub_c, sub_r, threads=t),
                  fast_bleu_sentences, f"fast-bleu {v} BLEU per pair",
                  agreement=f"not sacrebleu: nltk BLEU, max gap {gap.max():.1f} points")
        small = corpus[: args.self_bleu]
        toks = [s.split() for s in small]
        peer_sb = np.array(SelfBLEU(toks, weights).get_score()[4])
        agree = float(np.mean(np.abs(kernels.self_bleu(small, threads=t) - peer_sb) <= 1e-9))
        # fast-bleu reads one reference length out of bounds (see tests); compare where it is stable.
        assert agree > 0.99, f"self-BLEU agrees with fast-bleu on only {agree:.1%} of sentences"
        lane.race("self_bleu", len(small), lambda: kernels.self_bleu(small, threads=t),
                  lambda: SelfBLEU([s.split() for s in small], weights).get_score(), f"fast-bleu {v} SelfBLEU",
                  agreement=f"{agree:.2%} identical")

    v = peer_version("rensa")
    docs = corpus
    if v is None:
        for bench in ("minhash128 strings", "minhash128 tokens", "lsh_dedup"):
            lane.missing(bench, len(docs), "rensa")
        return
    from rensa import RMinHash, RMinHashDeduplicator

    tokens = [d.split() for d in docs]
    ours_fn = lambda: kernels.minhash(docs, num_perm=NUM_PERM, threads=t)  # noqa: E731
    lane.race("minhash128 strings", len(docs), ours_fn,
              lambda: RMinHash.digest_matrix_from_token_sets([d.split() for d in docs], NUM_PERM, 42),
              f"rensa {v} R-MinHash incl. str.split", agreement="impdist = datasketch; rensa is not")
    lane.race("minhash128 tokens", len(docs), ours_fn,
              lambda: RMinHash.digest_matrix_from_token_sets(tokens, NUM_PERM, 42),
              f"rensa {v} R-MinHash, tokens given", agreement="impdist = datasketch; rensa is not")

    # rensa's fastest sketch is not MinHash: its estimates are biased (reported, not a target).
    lane.race("minhash128 tokens (rho)", len(docs), ours_fn,
              lambda: RMinHash.digest_matrix_from_token_sets_rho(tokens, NUM_PERM, 42),
              f"rensa {v} rho sketch, tokens given", agreement="rho is a different, biased sketch")

    dup_docs = with_near_duplicates(docs[: args.dedup])
    keys = [str(i) for i in range(len(dup_docs))]
    bands, rows = lsh_params(THRESHOLD, NUM_PERM)

    def ours_keep() -> np.ndarray:
        sig = kernels.minhash(dup_docs, num_perm=NUM_PERM, threads=t)
        return ~kernels.near_duplicates(sig, THRESHOLD, bands, rows, threads=t)

    def rensa_keep() -> np.ndarray:
        dedup = RMinHashDeduplicator(threshold=THRESHOLD, num_perm=NUM_PERM, use_lsh=True)
        return np.array(dedup.add_pairs(zip(keys, (d.split() for d in dup_docs))))

    same = float(np.mean(ours_keep() == rensa_keep()))
    lane.race("lsh_dedup strings->keep", len(dup_docs), ours_keep, rensa_keep,
              f"rensa {v} RMinHashDeduplicator", agreement=f"{same:.1%} same decisions",
              kept=int(ours_keep().sum()))


def reference_rows(lane: Lane, args: argparse.Namespace) -> None:
    """impdist against the libraries whose numbers it reproduces (the peers of its tests)."""
    t = lane.threads
    report = lane.report
    mrpc = read_jsonl("mrpc_dev.jsonl")
    cands = [r["src"] for r in mrpc]
    refs = [r["refs"][0] for r in mrpc]
    n = len(cands)
    rep = 20  # our kernels get the same pairs replicated into one batch, as a filter would see them
    cands_rep, refs_rep = cands * rep, refs * rep

    from rouge_score import rouge_scorer

    for kind in ("rougeL", "rouge2"):
        scorer = rouge_scorer.RougeScorer([kind])
        start = time.perf_counter()
        peer = [tuple(scorer.score(r, c)[kind]) for c, r in zip(cands, refs)]
        peer_rate = n / (time.perf_counter() - start)
        assert np.array_equal(kernels.rouge(cands, refs, kind=kind, threads=t), peer)
        ours = best_time(lambda: kernels.rouge(cands_rep, refs_rep, kind=kind, threads=t))
        report.add(kind, n, n * rep / ours, peer_rate, "rouge-score 0.1.2", lane=lane.name)

    import sacrebleu

    start = time.perf_counter()
    peer = [sacrebleu.sentence_bleu(c, [r]).score for c, r in zip(cands, refs)]
    peer_rate = n / (time.perf_counter() - start)
    assert np.allclose(kernels.sentence_bleu(cands, refs, threads=t), peer, atol=1e-9, rtol=0)
    ours = best_time(lambda: kernels.sentence_bleu(cands_rep, refs_rep, threads=t))
    report.add("sentence_bleu", n, n * rep / ours, peer_rate, f"sacrebleu {sacrebleu.__version__}", lane=lane.name)

    start = time.perf_counter()
    peer_score = sacrebleu.corpus_bleu(cands, [refs]).score
    peer_rate = n / (time.perf_counter() - start)
    assert abs(kernels.corpus_bleu(cands, refs, threads=t) - peer_score) < 1e-9
    ours = best_time(lambda: kernels.corpus_bleu(cands_rep, refs_rep, threads=t))
    report.add("corpus_bleu", n, n * rep / ours, peer_rate, f"sacrebleu {sacrebleu.__version__}", lane=lane.name)

    corpus = synthetic_corpus(args.docs)
    start = time.perf_counter()
    kernels.self_bleu(corpus, threads=t)
    big_time = time.perf_counter() - start
    report.add(f"self_bleu@{len(corpus) // 1000}k", len(corpus), len(corpus) / big_time, None,
               "(ours alone: linear time)", lane=lane.name, ours_s=round(big_time, 2))

    from datasketch import MinHash, MinHashLSH

    docs = corpus[: args.ref_docs]
    shingled = [[w.encode("utf-8") for w in d.split()] for d in docs]
    start = time.perf_counter()
    peer_sigs = MinHash.bulk(shingled, num_perm=NUM_PERM)
    peer_rate = len(docs) / (time.perf_counter() - start)
    ours_sigs = kernels.minhash(docs, num_perm=NUM_PERM, threads=t)
    assert np.array_equal(ours_sigs, np.array([m.hashvalues for m in peer_sigs]))
    start = time.perf_counter()
    kernels.minhash(corpus, num_perm=NUM_PERM, threads=t)
    ours_rate = len(corpus) / (time.perf_counter() - start)
    report.add("minhash128", len(corpus), ours_rate, peer_rate, "datasketch 2.0 MinHash.bulk (affine32)",
               lane=lane.name)

    # LSH dedup against datasketch end to end: its MinHash, its MinHashLSH (query, verify, insert).
    dup_docs = with_near_duplicates(docs)
    start = time.perf_counter()
    lsh = MinHashLSH(num_perm=NUM_PERM, params=lsh_params(THRESHOLD, NUM_PERM))
    sketches = MinHash.bulk([[w.encode("utf-8") for w in d.split()] for d in dup_docs], num_perm=NUM_PERM)
    keep = np.zeros(len(dup_docs), dtype=bool)
    for i, m in enumerate(sketches):
        if not any(m.jaccard(sketches[j]) >= THRESHOLD for j in lsh.query(m)):
            keep[i] = True
            lsh.insert(i, m, check_duplication=False)
    peer_rate = len(dup_docs) / (time.perf_counter() - start)

    def ours_keep() -> np.ndarray:
        sig = kernels.minhash(dup_docs, num_perm=NUM_PERM, threads=t)
        return ~kernels.near_duplicates(sig, THRESHOLD, *lsh_params(THRESHOLD, NUM_PERM), threads=t)

    assert np.array_equal(ours_keep(), keep), "LSH keep mask differs from datasketch's"
    ours = best_time(ours_keep)
    report.add("lsh_dedup strings->keep", len(dup_docs), len(dup_docs) / ours, peer_rate,
               "datasketch 2.0 MinHash + MinHashLSH", lane=lane.name)

    # Distinct-n and n-gram Jaccard have no standard library; the peer is the obvious Python loop.
    def py_distinct(sents: list[str], k: int) -> float:
        grams = [tuple(w[i : i + k]) for s in sents for w in [s.split()] for i in range(len(w) - k + 1)]
        return len(set(grams)) / len(grams)

    sub = corpus[:100_000]
    start = time.perf_counter()
    expected = py_distinct(sub, 2)
    peer_rate = len(sub) / (time.perf_counter() - start)
    assert abs(kernels.distinct_n(sub, 2, threads=t) - expected) < 1e-12
    ours = best_time(lambda: kernels.distinct_n(sub, 2, threads=t))
    report.add("distinct_2", len(sub), len(sub) / ours, peer_rate, "python set loop", lane=lane.name)

    def py_jaccard(a: list[str], b: list[str], k: int) -> list[float]:
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
    report.add("ngram_jaccard2", n, n * rep / ours, peer_rate, "python set loop", lane=lane.name)


def run_lane(args: argparse.Namespace) -> None:
    """One lane in this process (the thread pools are already pinned by the environment)."""
    # MRPC holds a few non-ASCII letters; rouge-score drops them and so do we (tests cover it).
    warnings.simplefilter("ignore", ImpdistWarning)
    lane = Lane(args.threads, args.repeat)
    print(f"--- {lane.name} ({os.cpu_count()} cores on this machine)", flush=True)
    Report.header()
    if "peers" in args.sections:
        peer_rows(lane, args)
    if "refs" in args.sections:
        reference_rows(lane, args)
    lane.report.emit_json()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (used by `make run`)")
    ap.add_argument("--lanes", default="all,1", help="comma list of 'all' (all cores) and '1' (one thread)")
    ap.add_argument("--sections", default="peers,refs", help="comma list of 'peers' and 'refs'")
    ap.add_argument("--repeat", type=int, default=5, help="alternating rounds per comparison (best is kept)")
    ap.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)  # set by the lane runner
    ap.add_argument("--in-lane", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    args.docs, args.pairs, args.bleu_pairs = 200_000 // scale, 200_000 // scale, 20_000 // scale
    args.dedup, args.self_bleu, args.ref_docs = 200_000 // scale, 4000, 20_000 // scale
    args.sections = args.sections.split(",")
    if args.in_lane:
        run_lane(args)
        return
    for name in args.lanes.split(","):
        env = dict(os.environ)
        cmd = [sys.executable, __file__, "--in-lane", "--sections", ",".join(args.sections),
               "--repeat", str(args.repeat)] + (["--quick"] if args.quick else [])
        if name == "1":
            env.update(OMP_NUM_THREADS="1", RAYON_NUM_THREADS="1")
            cmd += ["--threads", "1"]
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
