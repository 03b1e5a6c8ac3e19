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
import time
from dataclasses import replace
from pathlib import Path

from impdist.evaluation.evaluate import evaluate
from impdist.run_config import read_run_config
from impdist.student.export import export_student
from impdist.student.train import train


def kept_pairs(dataset: Path) -> list[dict]:
    """The kept pairs of one dataset stage folder."""
    rows = []
    for shard in sorted(dataset.glob("kept-*.jsonl")):
        rows += [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


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
    ap.add_argument("--data", default=None, help="Evaluation set (default: the run's first paraphrase set).")
    ap.add_argument("--limit", type=int, default=None, help="Evaluate the first N items only.")
    ap.add_argument("--out", type=Path, default=None, help="Folder for the students (default: RUN/ablation).")
    args = ap.parse_args()

    config = read_run_config(args.run / "run.json")
    contextual_dir, rewrites_dir = datasets(args.run, "paraphrase")
    contextual, rewrites = kept_pairs(contextual_dir), kept_pairs(rewrites_dir)
    n = args.pairs or min(len(contextual), len(rewrites))
    shares = [float(s) for s in args.mixes.split(",")]
    if n > min(len(contextual), len(rewrites)):
        sys.exit(f"--pairs {n}: the run kept {len(contextual)} contextual and {len(rewrites)} rewrite pairs")
    data = args.data or next(name for name in config.eval_sets if "mrpc" in name)
    limit = args.limit or config.eval_sets.get(data)
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
        start = time.perf_counter()
        train(pairs_file, folder / "student", student_config, quiet=True)
        exported = folder / "student-onnx-int8"
        if not (exported / "student.json").is_file():
            export_student(folder / "student", exported, int8=True, evaluate=False)
        seconds = time.perf_counter() - start
        ev = evaluate(exported, data, limit=limit, baselines=["copy", "teacher"], teacher=config.teacher,
                      embedder=config.embedder, cache=args.run / "eval", batch_size=config.decode_batch)
        student = ev.systems[0].system
        iv = ev.intervals(student)
        vs = {c.baseline: c for c in ev.comparisons() if c.metric == "ibleu"}
        rows.append({"mix": name, "pairs": n, "steps": args.steps, "train_export_s": round(seconds),
                     "ibleu": iv["ibleu"].to_json(), "bert_ibleu": iv["bert_ibleu"].to_json(),
                     "copies": round(ev.systems[0].metrics["copies"], 1),
                     "vs_teacher_ibleu": vs["teacher, prompted"].to_json()})
        print(f"{name}: {rows[-1]}", flush=True)
    header = f"{'mix':<16}{'iBLEU [95%]':>24}{'BERT-iBLEU [95%]':>24}{'copies %':>10}{'vs teacher iBLEU':>28}{'s':>6}"
    print(f"\n{data}, {limit or 'all'} items; {n} pairs, {args.steps} steps per student\n{header}")
    for r in rows:
        t = r["vs_teacher_ibleu"]
        diff = f"{t['diff']:+.2f} [{t['ci'][0]:+.2f}, {t['ci'][1]:+.2f}]"
        print(f"{r['mix']:<16}{_iv(r['ibleu']):>24}{_iv(r['bert_ibleu']):>24}{r['copies']:>10}{diff:>28}"
              f"{r['train_export_s']:>6}")
    (out / "ablation.json").write_text(json.dumps({"data": data, "limit": limit, "rows": rows}, indent=1))
    print(json.dumps({"experiment": "ablation", "data": data, "rows": rows}))


def _iv(v: list[float]) -> str:
    return f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]"


if __name__ == "__main__":
    main()
