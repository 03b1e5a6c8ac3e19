"""CPU (all cores) against CUDA on the same data: ROUGE-L stats, BLEU stats, MinHash(128).

Data: the MRPC dev pairs replicated to --pairs pairs (ROUGE-L, BLEU), and the MRPC sentences
replicated to --texts texts (MinHash, word shingles, datasketch's default affine32 scheme).

Times are end to end, from Python strings to a numpy array: for CUDA that includes the host
tokenization (or shingling) and the transfers. The CUDA time is also split into its host part
(tokenize/shingle on the CPU) and its device part (_cuda call: copies in, kernels, copy out).
Each time is the best of --repeat runs, after a warm-up that creates the CUDA context.

Prints a table, then one JSON line per kernel:
  {"bench": "gpu_rougeL", "n": ..., "ours_per_s": <CUDA items/s>, "peer_per_s": <CPU items/s>, "ratio": ...}
and exits non-zero if a CUDA result differs from the CPU result.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impdist import kernels  # noqa: E402
from impdist.errors import ImpdistWarning  # noqa: E402
from impdist.kernels import _core  # noqa: E402
from impdist.data import resolve  # noqa: E402
from impdist.kernels.minhash import SCHEMES, permutations  # noqa: E402

DEFAULT_DATA = "mrpc-dev"  # the shipped MRPC pairs (impdist.data)


def replicate(items: list, n: int) -> list:
    return (items * (n // len(items) + 1))[:n]


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def split(prep: Callable[[], object], device: Callable[[object], object], repeat: int) -> tuple[float, float]:
    """Best host-preparation time and best device time of the CUDA path, measured apart."""
    t_prep, prepared = best(prep, repeat)
    t_dev, _ = best(lambda: device(prepared), repeat)
    return t_prep, t_dev


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA,
                    help="JSONL {src, refs}: a file, a named set or hf:REPO[:CONFIG[:SPLIT]] (default: mrpc-dev)")
    ap.add_argument("--pairs", type=int, default=1_000_000, help="pairs for ROUGE-L and BLEU")
    ap.add_argument("--texts", type=int, default=1_000_000, help="texts for MinHash")
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="100,000 pairs and texts, 2 repeats")
    args = ap.parse_args()
    warnings.simplefilter("ignore", ImpdistWarning)  # MRPC's few non-ASCII letters, same on both devices
    if args.quick:
        args.pairs, args.texts, args.repeat = 100_000, 100_000, 2

    if not kernels.cuda_available():
        from impdist.kernels._device import cuda_module

        try:
            cuda_module()
        except RuntimeError as exc:
            print(f"bench_gpu: {exc}", file=sys.stderr)
        return 2
    from impdist.kernels import _cuda

    with resolve(args.data, "eval").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    cands = replicate([r["src"] for r in rows], args.pairs)
    refs = replicate([r["refs"][0] for r in rows], args.pairs)
    texts = replicate([r["src"] for r in rows] + [r["refs"][0] for r in rows], args.texts)
    a, b = permutations(args.num_perm, 1, "affine32")
    scheme = SCHEMES["affine32"]

    print(f"data: {len(rows)} MRPC pairs -> {args.pairs:,} pairs, {args.texts:,} texts; "
          f"CPU threads: {os.cpu_count()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); "
          f"CUDA devices: {_cuda.device_count()}; best of {args.repeat}")

    # Warm-up: CUDA context, first allocations, OpenMP thread pool.
    for device in ("cpu", "cuda"):
        kernels.rouge_stats(cands[:1000], refs[:1000], device=device)
        kernels.bleu_stats(cands[:1000], refs[:1000], device=device)
        kernels.minhash(texts[:1000], num_perm=args.num_perm, device=device)

    benches = [
        ("gpu_rougeL", args.pairs,
         lambda dev: kernels.rouge_stats(cands, refs, kind="rougeL", device=dev),
         lambda: _core.tokenize_rouge_batch(cands, refs, False, 0)[0],
         lambda batch: _cuda.rouge_stats(batch, 0)),
        ("gpu_bleu", args.pairs,
         lambda dev: kernels.bleu_stats(cands, refs, device=dev),
         lambda: _core.tokenize_bleu_batch(cands, refs, 0),
         lambda batch: _cuda.bleu_stats(batch)),
        (f"gpu_minhash{args.num_perm}", args.texts,
         lambda dev: kernels.minhash(texts, num_perm=args.num_perm, device=dev),
         lambda: _core.shingle_batch(texts, 0),
         lambda batch: _cuda.minhash(batch, a, b, scheme)),
    ]

    results, mismatches = [], []
    for name, n, run, prep, device_part in benches:
        t_cpu, out_cpu = best(lambda: run("cpu"), args.repeat)
        t_gpu, out_gpu = best(lambda: run("cuda"), args.repeat)
        equal = out_cpu.dtype == out_gpu.dtype and np.array_equal(out_cpu, out_gpu)
        if not equal:
            mismatches.append(name)
        t_prep, t_dev = split(prep, device_part, args.repeat)
        results.append(dict(name=name, n=n, cpu=t_cpu, gpu=t_gpu, prep=t_prep, dev=t_dev, equal=equal))
        del out_cpu, out_gpu

    head = f"{'kernel':<16}{'n':>11}{'CPU s':>9}{'CUDA s':>9}{'CPU items/s':>14}{'CUDA items/s':>15}" \
           f"{'CUDA/CPU':>10}{'host prep s':>13}{'device s':>10}  equal"
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['name']:<16}{r['n']:>11,}{r['cpu']:>9.3f}{r['gpu']:>9.3f}{r['n'] / r['cpu']:>14,.0f}"
              f"{r['n'] / r['gpu']:>15,.0f}{r['cpu'] / r['gpu']:>9.2f}x{r['prep']:>13.3f}{r['dev']:>10.3f}"
              f"  {'yes' if r['equal'] else 'NO'}")
    print("host prep = tokenize/shingle on the CPU (all cores for ROUGE/BLEU, one for shingling); "
          "device = copies in, kernels, copy out")
    for r in results:
        ours, peer = r["n"] / r["gpu"], r["n"] / r["cpu"]
        print(json.dumps({"bench": r["name"], "n": r["n"], "ours_per_s": round(ours, 1), "peer_per_s": round(peer, 1),
                          "ratio": round(ours / peer, 4)}))
    if mismatches:
        print(f"bench_gpu: CUDA and CPU results differ for {', '.join(mismatches)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
