"""What the experiments share: reading a run folder's kept pairs, and training, exporting and
evaluating one student against the prompted teacher into one result row."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

from impdist.evaluation.data import load_eval_set
from impdist.evaluation.evaluate import BASELINES, DECIDING, evaluate
from impdist.run_config import RunConfig
from impdist.student.export import export_student
from impdist.student.train import TrainConfig, train

SHOWN = {"paraphrase": ("copies",), "summary": ("compression",)}  # beside the deciding scores


def add_eval_options(ap: argparse.ArgumentParser) -> None:
    """The options every experiment shares: which set its students are evaluated on, how much of it."""
    ap.add_argument("--data", default=None, help="Evaluation set (default: the run's first set of the task).")
    ap.add_argument("--limit", type=int, default=None, help="Evaluate the first N items only.")


def kept_pairs(dataset: Path) -> list[dict]:
    """The kept pairs of one dataset stage folder."""
    rows = []
    for shard in sorted(dataset.glob("kept-*.jsonl")):
        rows += [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def eval_set(config: RunConfig, data: str | None, limit: int | None,
             task: str = "paraphrase") -> tuple[str, int | None]:
    """The evaluation set and item count: by default the run's first set of `task`, and its count."""
    data = data or next(name for name in config.eval_sets if load_eval_set(name, limit=1).task == task)
    return data, limit or config.eval_sets.get(data)


def train_and_evaluate(train_on: Path | Sequence[Path], folder: Path, student: TrainConfig, config: RunConfig,
                       run: Path, data: str, limit: int | None) -> dict:
    """Train a student on `train_on` (a pairs file or dataset folders) into `folder/student`, then
    export_and_evaluate it; with the steps and the training seconds."""
    start = time.perf_counter()
    train(train_on, folder / "student", student, quiet=True)
    return {"steps": student.max_steps, "train_s": round(time.perf_counter() - start),
            **export_and_evaluate(folder / "student", folder, config, run, data, limit)}


def export_and_evaluate(student: Path, folder: Path, config: RunConfig, run: Path, data: str,
                        limit: int | None) -> dict:
    """Export a trained student to ONNX int8 under `folder` and evaluate it as the run evaluates
    its task (the run's decoding controls; copy, truncation and prompted-teacher baselines, cached
    in the run's eval/): its deciding scores with their intervals, and its paired tests against
    every baseline, `vs_teacher` being the teacher decoded and chosen as the student is."""
    start = time.perf_counter()
    exported = folder / "student-onnx-int8"
    if not (exported / "student.json").is_file():
        export_student(student, exported, int8=True, evaluate=False)
    exported_at = time.perf_counter()
    evalset = load_eval_set(data, limit=limit)
    ev = evaluate(exported, evalset, baselines=BASELINES, teacher=config.teacher, embedder=config.embedder,
                  controls=config.eval_controls[evalset.task], cache=run / "eval", batch_size=config.decode_batch)
    student = [s for s in ev.systems if s.system.startswith("student")][-1]  # the run's decoding
    name = student.system
    iv = ev.intervals(name)
    teacher = [s.system for s in ev.systems if s.system.startswith("teacher")][-1]  # the same decoding
    tests = [c for c in ev.comparisons() if c.system == name]
    vs_teacher = next(c for c in tests if c.baseline == teacher and c.metric == DECIDING[evalset.task][0])
    return {"task": evalset.task, "export_s": round(exported_at - start),
            "eval_s": round(time.perf_counter() - exported_at),
            "scores": {m: iv[m].to_json() for m in DECIDING[evalset.task]},
            **{k: round(student.metrics[k], 2) for k in SHOWN[evalset.task]},
            "vs_teacher": vs_teacher.to_json(), "tests": [c.to_json() for c in tests]}


def interval(v: Sequence[float]) -> str:
    """`score [low, high]`."""
    return f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]"


def row_text(label: str, r: dict) -> str:
    """One result row as the experiments print it: scores, what is shown beside them, the test
    against the teacher and the seconds of every step."""
    scores = "  ".join(f"{m} {interval(v)}" for m, v in r["scores"].items())
    shown = "  ".join(f"{k} {r[k]}" for k in SHOWN[r["task"]])
    seconds = sum(v for k, v in r.items() if k.endswith("_s"))
    return f"{label:<10}{scores}  {shown}  vs teacher {difference(r['vs_teacher'])}  {seconds} s"


def difference(c: dict) -> str:
    """A paired comparison as `+diff [low, high]`."""
    return f"{c['diff']:+.2f} [{c['ci'][0]:+.2f}, {c['ci'][1]:+.2f}]"
