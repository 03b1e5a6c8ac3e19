"""Quality against data (issue 18, part 2): a student of one task trained on the prompted
teacher's rewrites at 1x, 2x, 4x and 8x a run's rewrite data (source sentences x samples each),
the same filters and judge, the same evaluation, with the time of every step.

Scale k first multiplies the run's rewrite sources (up to 4x, while the run's candidates have
enough distinct sentences), then the samples per source. Each student trains for `--epochs`
passes over its kept pairs (at least `--min-steps` steps), so a larger dataset is also trained on
longer, as a user with more data would. Prints a table, writes curve.json and curve.png (the run
report shows both when `impdist run` is run again on the folder) and one JSON line.

    python experiments/curve.py runs/default --scales 1,2,4,8
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from common import add_eval_options, eval_set, row_text, train_and_evaluate
from impdist.evaluation.evaluate import LABELS
from impdist.evaluation.report import scale_curve_png
from impdist.filters.pipeline import filter_dataset
from impdist.io import fingerprint, latest_stage
from impdist.run import rewrite_sources_of
from impdist.run_config import read_run_config
from impdist.student.rewrites import PROMPTED, Sampling, sample_rewrites
from impdist.student.train import steps_for

def plan(scale: int, sources: int, samples: int, available: int) -> tuple[int, int]:
    """(sources, samples per source) for `scale` times the run's data: sources first, while the
    run has them, then samples."""
    n = min(sources * scale, available)
    return n, math.ceil(sources * samples * scale / n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="A finished `impdist run` folder.")
    ap.add_argument("--task", default="paraphrase", choices=("paraphrase", "summary"),
                    help="The task whose rewrites are scaled; its student is evaluated on the run's set of it.")
    ap.add_argument("--scales", default="1,2,4,8", help="Multiples of the run's rewrite data.")
    ap.add_argument("--epochs", type=float, default=5.0, help="Passes over each student's kept pairs.")
    ap.add_argument("--min-steps", type=int, default=40, help="Fewest optimizer steps per student.")
    ap.add_argument("--max-sources", type=int, default=1024, help="Most rewrite sources taken from the run.")
    ap.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="A paraphrase filter setting over the run's (e.g. max_rouge_l=0.6); repeatable.")
    add_eval_options(ap)
    ap.add_argument("--out", type=Path, default=None,
                    help="Folder for the points (default: RUN/curve, RUN/curve-summary for summaries).")
    args = ap.parse_args()

    config = read_run_config(args.run / "run.json")
    candidates = latest_stage(args.run, "candidates")
    if candidates is None:
        sys.exit(f"{args.run}: no finished candidates stage; run `impdist run --out {args.run}` first")
    pool = rewrite_sources_of(candidates.path, args.max_sources)
    judge = f"paraphrase:{args.run / 'judge'}" if (args.run / "judge").is_dir() else "embedding"
    data, limit = eval_set(config, args.data, args.limit, task=args.task)
    out = args.out or args.run / ("curve" if args.task == "paraphrase" else f"curve-{args.task}")
    base = config.rewrites[args.task]
    filters = replace(config.filters[args.task], **dict(_setting(kv) for kv in args.filter))
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        n, samples = plan(scale, config.rewrite_sources, base.samples, len(pool))
        folder = out / f"x{scale}"
        start = time.perf_counter()
        sampling = Sampling(**asdict(replace(base, samples=samples)), seed=config.seed, batch_size=config.decode_batch)
        stage = sample_rewrites(folder, PROMPTED + config.teacher, pool[:n], args.task, sampling,
                                inputs={"candidates": fingerprint(candidates.path)}, quiet=True)
        generated = time.perf_counter()
        kept = filter_dataset(stage.path, folder, task=args.task, config=filters, pairing="source", cap=None,
                              judge=judge, embedder=config.embedder, seed=config.seed, quiet=True)
        filtered = time.perf_counter()
        steps = steps_for(kept.kept, replace(config.student, epochs=args.epochs), args.min_steps)
        row = {"scale": scale, "sources": n, "samples": samples, "pairs": kept.kept,
               "rewrite_s": round(generated - start), "filter_s": round(filtered - generated),
               **train_and_evaluate([kept.dataset_dir], folder, replace(config.student, max_steps=steps), config,
                                    args.run, data, limit)}
        rows.append(row)
        print(f"x{scale}: {row}", flush=True)
        (out / "curve.json").write_text(json.dumps({"data": data, "limit": limit, "filters": asdict(filters),
                                                    "rows": rows}, indent=1))
    print(f"\n{data}, {limit or 'all'} items; {args.task} student on prompted rewrites, {args.epochs:g} epochs")
    for r in rows:
        print(row_text(f"x{r['scale']}", r) + f"  ({r['sources']} sources x {r['samples']}, {r['pairs']} pairs, "
              f"{r['steps']} steps)")
    print(f"plot: {scale_curve_png(rows, out / 'curve.png', LABELS)}")
    print(json.dumps({"experiment": "curve", "data": data, "rows": rows}))


def _setting(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    if not sep:
        sys.exit(f"--filter {text!r}: expected KEY=VALUE")
    return key, float(value)


if __name__ == "__main__":
    main()
