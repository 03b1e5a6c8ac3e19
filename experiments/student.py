"""One student on datasets of your choice, trained for a fixed number of steps and evaluated like
the other experiments' students (intervals, paired tests against the prompted teacher and
copying): e.g. whether training on the summary rewrites beside the paraphrase ones changes the
paraphrase student. Prints its row as JSON and writes it to OUT/student.json.

    python experiments/student.py runs/default --dataset DIR [--dataset DIR ...] --steps 96 --out OUT
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from common import add_eval_options, eval_set, train_and_evaluate
from impdist.run_config import read_run_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="A finished `impdist run` folder (its config, judge and eval cache).")
    ap.add_argument("--dataset", type=Path, action="append", required=True, help="A dataset folder; repeatable.")
    ap.add_argument("--steps", type=int, required=True, help="Optimizer steps.")
    add_eval_options(ap)
    ap.add_argument("--out", type=Path, required=True, help="Folder for the student.")
    args = ap.parse_args()

    config = read_run_config(args.run / "run.json")
    data, limit = eval_set(config, args.data, args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    row = {"datasets": [str(d) for d in args.dataset],
           **train_and_evaluate(args.dataset, args.out, replace(config.student, max_steps=args.steps), config,
                                args.run, data, limit)}
    (args.out / "student.json").write_text(json.dumps({"data": data, "limit": limit, **row}, indent=1))
    print(json.dumps({"experiment": "student", "data": data, **row}))


if __name__ == "__main__":
    main()
