"""Which pairs teach the student: contextual pairs only, prompted rewrites only, or both mixed,
at the same number of training pairs and the same training steps (issue 18, part 4).

Reads the kept paraphrase pairs of a finished `impdist run` folder (its contextual dataset and
its prompted-rewrites dataset), trains one student per mix from the run's teacher with the
run's student settings but a fixed number of steps (a time budget would give each mix a
different number of steps on a busy machine), exports each to ONNX int8 and evaluates it with
the prompted teacher on the same set, each with its 95% interval and the paired test against
the teacher. Prints a table, writes ablation.json and one JSON line.

    python experiments/ablation.py runs/default --steps 40 --mixes 0,0.5,1
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import replace
from pathlib import Path

from common import add_eval_options, eval_set, kept_pairs, row_text, train_and_evaluate
from impdist.run_config import read_run_config


def datasets(run: Path, task: str) -> tuple[Path, Path]:
    """(contextual, rewrites) dataset folders of `task` in a run folder, from their cards."""
    def of(folders):
        found = [d for d in folders if (d / "card.json").is_file()
                 and json.loads((d / "card.json").read_text())["task"] == task]
        if len(found) != 1:
            sys.exit(f"{run}: expected one {task} dataset among {', '.join(map(str, folders)) or 'none'}")
        return found[0]
    return of(sorted(run.glob("dataset-*"))), of(sorted((run / "rewrites" / task).glob("dataset-*")))


def mix(contextual: list[dict], rewrites: list[dict], share: float, n: int, seed: int) -> list[dict]:
    """n pairs, round(share * n) of them contextual, the rest rewrites, drawn without replacement."""
    rng = random.Random(seed)
    k = round(share * n)
    return rng.sample(contextual, k) + rng.sample(rewrites, n - k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="A finished `impdist run` folder.")
    ap.add_argument("--mixes", default="0,0.5,1", help="Shares of contextual pairs to train on (0 = rewrites only).")
    ap.add_argument("--pairs", type=int, default=None, help="Training pairs per student (default: the smaller set).")
    ap.add_argument("--steps", type=int, default=40, help="Optimizer steps per student.")
    add_eval_options(ap)
    ap.add_argument("--out", type=Path, default=None, help="Folder for the students (default: RUN/ablation).")
    args = ap.parse_args()

    config = read_run_config(args.run / "run.json")
    contextual_dir, rewrites_dir = datasets(args.run, "paraphrase")
    contextual, rewrites = kept_pairs(contextual_dir), kept_pairs(rewrites_dir)
    n = args.pairs or min(len(contextual), len(rewrites))
    shares = [float(s) for s in args.mixes.split(",")]
    if n > min(len(contextual), len(rewrites)):
        sys.exit(f"--pairs {n}: the run kept {len(contextual)} contextual and {len(rewrites)} rewrite pairs")
    data, limit = eval_set(config, args.data, args.limit)
    out = args.out or args.run / "ablation"
    out.mkdir(parents=True, exist_ok=True)
    student_config = replace(config.student, max_steps=args.steps)
    rows = []
    for share in shares:
        name = f"contextual {share:.0%}"
        folder = out / f"mix-{share:g}"
        folder.mkdir(exist_ok=True)
        pairs_file = folder / "pairs.jsonl"
        pairs_file.write_text("".join(json.dumps(p) + "\n" for p in mix(contextual, rewrites, share, n, config.seed)))
        rows.append({"mix": name, "pairs": n, **train_and_evaluate(pairs_file, folder, student_config, config,
                                                                   args.run, data, limit)})
        print(f"{name}: {rows[-1]}", flush=True)
    print(f"\n{data}, {limit or 'all'} items; {n} pairs, {args.steps} steps per student")
    for r in rows:
        print(row_text(r["mix"], r))
    (out / "ablation.json").write_text(json.dumps({"data": data, "limit": limit, "rows": rows}, indent=1))
    print(json.dumps({"experiment": "ablation", "data": data, "rows": rows}))


if __name__ == "__main__":
    main()
