"""Self-distillation rounds, measured (issue 18, part 3): a trained student rewrites the sources
of its own dataset, the same filters and judge re-judge the samples, the kept pairs join the
dataset and the student retrains on it (impdist.distill); every round's student is exported and
evaluated like round 0, with the seconds each round took, so a round is kept in the default job
only if it pays for its time. Prints a table, writes rounds.json and one JSON line.

    python experiments/rounds.py runs/default --student runs/default/curve/x4/student \\
        --dataset runs/default/curve/x4/dataset-... --rounds 2
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from common import add_eval_options, eval_set, export_and_evaluate, row_text
from impdist.distill import distill
from impdist.run_config import read_run_config
from impdist.student.rewrites import Sampling


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="A finished `impdist run` folder (its config, judge and eval cache).")
    ap.add_argument("--student", type=Path, required=True, help="The round-0 student (a trained student folder).")
    ap.add_argument("--dataset", type=Path, required=True, help="The dataset that student was trained on.")
    ap.add_argument("--rounds", type=int, default=2, help="Self-distillation rounds.")
    ap.add_argument("--samples", type=int, default=4, help="Student samples per source in each round.")
    ap.add_argument("--epochs", type=float, default=5.0, help="Passes over each round's grown dataset.")
    add_eval_options(ap)
    ap.add_argument("--out", type=Path, default=None, help="Folder for the rounds (default: RUN/rounds).")
    args = ap.parse_args()

    config = read_run_config(args.run / "run.json")
    data, limit = eval_set(config, args.data, args.limit)
    out = args.out or args.run / "rounds"
    judge = f"paraphrase:{args.run / 'judge'}" if (args.run / "judge").is_dir() else None
    paraphrase = config.rewrites["paraphrase"]
    sampling = Sampling(samples=args.samples, temperature=paraphrase.temperature, top_p=paraphrase.top_p,
                        seed=config.seed, batch_size=config.decode_batch)
    training = replace(config.student, epochs=args.epochs, max_steps=None)
    rows = [{"round": 0, "pairs": None, "added": None, "round_s": 0,
             **export_and_evaluate(args.student, out / "round-0", config, args.run, data, limit)}]
    print(f"round 0: {rows[-1]}", flush=True)
    for k in range(1, args.rounds + 1):
        start = time.perf_counter()
        # Rounds resume: asking for k rounds redoes none of the first k - 1, so this times round k alone.
        result = distill(args.dataset, out, rounds=k, student=args.student, train_config=training, sampling=sampling,
                         judge=judge, quiet=True)
        seconds = round(time.perf_counter() - start)
        r = result.rounds[-1]
        rows.append({"round": k, "pairs": r.pairs, "added": r.added, "round_s": seconds,
                     **export_and_evaluate(r.student.out, out / f"round-{k}", config, args.run, data, limit)})
        print(f"round {k}: {rows[-1]}", flush=True)
        (out / "rounds.json").write_text(json.dumps({"data": data, "limit": limit, "rows": rows}, indent=1))
    print(f"\n{data}, {limit or 'all'} items; self-distillation from {args.student}")
    for r in rows:
        print(row_text(f"round {r['round']}", r) + (f"  ({r['pairs']} pairs, {r['added']} added)" if r["round"] else ""))
    print(json.dumps({"experiment": "rounds", "data": data, "rows": rows}))


if __name__ == "__main__":
    main()
