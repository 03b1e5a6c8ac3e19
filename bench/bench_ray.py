"""The filter stage (pair, score, judge with the embedded MiniLM, embed, then the dedup reduce) on
the local executor (1 and 2 worker processes) and on Ray (a local cluster, 2 worker actors).

Pairs: candidate groups built from MRPC dev records (source, reference, the reference missing a
word, the source re-spaced: 6 pairs a group), as in bench_filter.py. Each run writes a fresh
run folder, so the time includes what a user waits for: worker start-up and model loads (once
per worker), scoring, and the dataset stage in the driver. The Ray cluster is started before
the clock (`ray start` is a one-off on a real cluster); its start-up is reported beside.
Threads: without --threads a local worker runs torch on every core (2 workers on 2 cores
oversubscribe), while Ray gives each 1-CPU actor OMP_NUM_THREADS=1, so torch uses one thread.
Prints a table, then one JSON line per comparison (ratio = ours / peer pairs/s).
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from common import Report, read_jsonl
from impdist import ImpdistWarning
from impdist.filters.pipeline import filter_dataset, read_dataset
from impdist.io.executors import ray as ray_executor


def groups(n: int) -> list[dict]:
    out = []
    for r in read_jsonl("mrpc_dev.jsonl")[:n]:
        words = r["refs"][0].split()
        drop = len(words) // 2
        out.append({"context_id": r["id"], "y_orig": r["src"],
                    "candidates": [r["refs"][0], " ".join(words[:drop] + words[drop + 1 :]),
                                   "  ".join(r["src"].split())]})
    return out


def run(source: Path, root: Path, name: str, threads: int | None, repeat: int, **executor) -> dict:
    """Best wall time of `repeat` fresh filter runs, and the dataset the last one wrote."""
    best = float("inf")
    for k in range(repeat):
        out = root / f"{name}-{k}"
        start = time.perf_counter()
        res = filter_dataset(source, out, judge="embedding", threads=threads, quiet=True, **executor)
        best = min(best, time.perf_counter() - start)
    rows = list(read_dataset(res.dataset_dir)) + list(read_dataset(res.dataset_dir, rejected=True))
    print(f"  {name}: {best:.1f} s, {res.kept} kept of {len(rows)}", flush=True)
    return {"seconds": best, "pairs": len(rows), "kept": res.kept, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--groups", type=int, default=500, help="MRPC dev records (6 pairs each)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="model threads per worker (default: torch's)")
    ap.add_argument("--repeat", type=int, default=1, help="fresh runs per executor; the best counts")
    args = ap.parse_args()
    warnings.simplefilter("ignore", ImpdistWarning)
    root = Path(tempfile.mkdtemp(prefix="bench_ray-"))
    try:
        source = root / "candidates.jsonl"
        source.write_text("".join(json.dumps(g) + "\n" for g in groups(args.groups)), encoding="utf-8")
        start = time.perf_counter()
        ray = ray_executor.connect(workers=args.workers)
        ray_init_s = time.perf_counter() - start
        import torch

        cfg = dict(threads=args.threads, repeat=args.repeat)
        one = run(source, root, "local-1", workers=1, **cfg)
        local = run(source, root, f"local-{args.workers}", workers=args.workers, **cfg)
        on_ray = run(source, root, f"ray-{args.workers}", workers=args.workers, executor="ray", **cfg)
        same = on_ray["rows"] == one["rows"]
        n = one["pairs"]
        common = dict(ray=ray.__version__, cpus=int(ray.cluster_resources()["CPU"]), ray_init_s=round(ray_init_s, 1),
                      threads_per_worker={"local": args.threads or torch.get_num_threads(),
                                          "ray": args.threads or 1},  # Ray: OMP_NUM_THREADS=1 per 1-CPU actor
                      same_dataset=same,
                      kept=one["kept"])
        report = Report()
        Report.header("pairs/s")
        w = args.workers
        report.add(f"filter_ray{w}_vs_local1", n, n / on_ray["seconds"], n / one["seconds"],
                   "local executor, 1 worker", ours_s=round(on_ray["seconds"], 1), peer_s=round(one["seconds"], 1),
                   **common)
        report.add(f"filter_ray{w}_vs_local{w}", n, n / on_ray["seconds"], n / local["seconds"],
                   f"local executor, {w} worker processes", ours_s=round(on_ray["seconds"], 1),
                   peer_s=round(local["seconds"], 1), **common)
        report.add(f"filter_local{w}_vs_local1", n, n / local["seconds"], n / one["seconds"],
                   "local executor, 1 worker", ours_s=round(local["seconds"], 1), peer_s=round(one["seconds"], 1),
                   **common)
        report.emit_json()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
