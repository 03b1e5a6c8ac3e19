"""The main job (`impdist run`, what `make run` calls): every stage of the pipeline on the
embedded defaults (generate -> judge -> filter -> rewrite -> train -> export -> evaluate ->
report), each resumable, its configuration recorded in run.json, ending with the metric
tables, a few of the student's paraphrases beside the prompted teacher's, and the report's path."""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

from impdist.data import resolve as resolve_data
from impdist.errors import ImpdistError
from impdist.evaluation.data import load_eval_set
from impdist.evaluation.evaluate import evaluate
from impdist.evaluation.run_report import write_run_report
from impdist.extras import require
from impdist.filters.pipeline import filter_dataset
from impdist.generate.pipeline import generate
from impdist.io import StageDir, fingerprint
from impdist.io.atomic import write_bytes_atomic
from impdist.judges.train import train_judge
from impdist.run_config import RUN_FILE, RunConfig, run_record
from impdist.io.run_steps import Step, write_stages
from impdist.student.export import export_student
from impdist.student.meta import STUDENT_FILE, read_meta
from impdist.student.rewrites import PROMPTED, Sampling, sample_rewrites
from impdist.student.train import steps_for, train

_log = logging.getLogger(__name__)


@dataclass
class Rewrites:
    """The prompted teacher's rewrites stage, as the run prints it."""

    stage: object  # impdist.io.StageDir

    @property
    def sources(self) -> int:
        """How many source sentences were rewritten."""
        return sum(1 for _ in self.stage.iter_rows())

    def __str__(self) -> str:
        rows = list(self.stage.iter_rows())
        n = sum(len(r["candidates"]) for r in rows)
        return f"{len(rows)} sources -> {n} distinct rewrites in {self.stage.path}"


@dataclass
class RunReport:
    """What each step produced, in order (impdist.io.run_steps.Step: seconds, summary, rows)."""

    out: Path
    steps: list[Step] = field(default_factory=list)
    report: Path | None = None

    def __str__(self) -> str:
        lines = [f"impdist run: everything is under {self.out}"]
        for s in self.steps:
            rate = "" if s.rate is None else f", {s.rows:,} {s.unit}, {s.rate:.2f}/s"
            lines.append(f"\n== {s.name} ({s.seconds:.0f} s{rate})\n{s.summary}")
        if self.report is not None:
            lines.append(f"\nreport: {self.report}")
        return "\n".join(lines)


def _step(report: RunReport, name: str, quiet: bool, fn, rows=None, unit: str = ""):
    """Run one step, timed; `rows(result)` counts what it worked through, in `unit`."""
    if not quiet:
        _log.info("%s ...", name)
    start = time.monotonic()
    result = fn()
    seconds = time.monotonic() - start
    report.steps.append(Step(name, seconds, str(result), None if rows is None else int(rows(result)), unit))
    if not quiet:
        _log.info("%s done in %.0f s", name, seconds)
    return result


def run(
    out: str | os.PathLike = "runs/default",
    config: RunConfig | None = None,
    *,
    show: int = 5,
    quiet: bool = False,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
) -> RunReport:
    """The whole job (impdist.run_config.RunConfig says what each step does; its defaults are
    `make run`): generate candidates with the teacher; train the paraphrase judge on
    `judge_data` (labelled pairs; without it the embedding judge is used); filter the candidates
    into one dataset per task (the paper's contextual pairs); have the teacher, prompted, sample
    rewrites of `rewrite_sources` of its own sentences and filter those the same way; train one
    student per task on its rewrite dataset (on its contextual one when rewrite_sources is 0)
    for `student.epochs` passes, at least `train_min_steps` steps; export each to ONNX int8;
    evaluate each on its task's evaluation sets beside the baselines; write report.md /
    report.html and the per-step times (stages.json). The config is recorded in
    `<out>/run.json` first; every step resumes.
    `workers`, `executor` and `ray_address` choose who runs the generate and filter shards."""
    require("models", "filters", "faiss", "report", what="impdist run")
    c = config or RunConfig()
    out = Path(out)
    evalsets = [load_eval_set(name, limit=items) for name, items in c.eval_sets.items()]  # bad names fail first
    if c.judge_data is not None:
        resolve_data(c.judge_data, "labelled")  # as do bad judge data, before any work
    record_run(out, c, {"workers": workers, "executor": executor, "ray_address": ray_address})
    report = RunReport(out)
    shards = dict(workers=workers, executor=executor, ray_address=ray_address)
    generated = _step(report, "generate", quiet,
                      lambda: generate(c.teacher, c.contexts, c.samples, out, backend=c.generate_backend,
                                       batch_size=c.generate_batch_size, seed=c.seed, quiet=quiet, **shards),
                      rows=lambda g: g.candidates, unit="continuations")
    judge = "embedding"
    if c.judge_data is not None:
        judge_dir = out / "judge"
        _step(report, "judge", quiet,
              lambda: train_judge(c.judge_base, c.judge_data, "paraphrase", judge_dir, quiet=quiet),
              rows=lambda j: j.meta["train"]["pairs"] * j.meta["train"]["epochs"], unit="pairs")
        judge = f"paraphrase:{judge_dir}"
    filtering = dict(judge=judge, embedder=c.embedder, seed=c.seed, quiet=quiet, **shards)
    judged = dict(rows=lambda f: f.funnel[0][1], unit="pairs")
    contextual, rewritten = {}, {}
    for task in c.tasks:
        contextual[task] = _step(report, f"filter ({task})", quiet,
                                 lambda task=task: filter_dataset(out, task=task, config=c.filters[task],
                                                                  cap=c.pair_cap, **filtering), **judged)
    if c.rewrite_sources:
        sources = rewrite_sources_of(generated.candidates_dir, c.rewrite_sources)
        for task in c.tasks:
            folder = out / "rewrites" / task
            sampling = Sampling(**asdict(c.rewrites[task]), seed=c.seed, batch_size=c.decode_batch)
            rewrites = _step(report, f"rewrite ({task})", quiet,
                             lambda task=task, folder=folder, sampling=sampling: Rewrites(sample_rewrites(
                                 folder, PROMPTED + c.teacher, sources, task, sampling,
                                 inputs={"candidates": fingerprint(generated.candidates_dir)}, quiet=quiet)),
                             rows=lambda r, n=sampling.samples: r.sources * n, unit="samples")
            rewritten[task] = _step(report, f"filter rewrites ({task})", quiet,
                                    lambda task=task, folder=folder, r=rewrites: filter_dataset(
                                        r.stage.path, folder, task=task, config=c.filters[task], pairing="source",
                                        cap=None, **filtering), **judged)
    datasets = {**{f"{t} (contextual)": r.dataset_dir for t, r in contextual.items()},
                **{f"{t} (rewrites)": r.dataset_dir for t, r in rewritten.items()}}
    # One student per task: a student trained on both tasks' pairs scored below the teacher on
    # MRPC where a paraphrase-only one beat it (experiments/results/mixed.json, curve.json). A
    # task whose filter kept nothing gets no student (its card shows why), which is not fatal.
    students = {}
    for task, kept in (rewritten or contextual).items():
        if not kept.kept:
            continue
        training = replace(c.student, max_steps=steps_for(kept.kept, c.student, c.train_min_steps))
        _step(report, f"train ({task})", quiet,
              lambda kept=kept, task=task, training=training: train(
                  [kept.dataset_dir], out / "student" / task, training, max_minutes=c.train_minutes,
                  eval_every=c.train_eval_every, quiet=quiet),
              rows=lambda t, batch=training.batch_size: t.steps * batch, unit="examples")
        students[task] = out / "student" / task
    if not students:
        raise ImpdistError(f"the filters kept no pair to train a student on (see the dataset cards under {out}); "
                           "generate more (--contexts, --rewrite-sources) or use a stronger --teacher")
    exported = {task: out / "student-onnx-int8" / task for task in students}
    for task, student in students.items():
        _step(report, f"export ({task})", quiet, lambda student=student, task=task: _export(student, exported[task]))
    evaluations = []
    for evalset in evalsets:
        if evalset.task not in exported:
            continue
        ev = _step(report, f"evaluate ({evalset.name})", quiet,
                   lambda evalset=evalset: evaluate(exported[evalset.task], evalset, teacher=c.teacher,
                                                    cache=out / "eval", embedder=c.embedder,
                                                    controls=c.eval_controls[evalset.task].as_controls(),
                                                    batch_size=c.decode_batch, quiet=quiet),
                   rows=lambda ev: ev.n, unit="items")
        evaluations.append((ev, evalset.srcs, evalset.refs))
    stages = write_stages(out, report.steps)
    page = write_run_report(out, report.steps, datasets, students, evaluations)
    report.steps.append(Step("report", 0.0, f"{page}\n{page.with_suffix('.md')}\n{stages}"))
    if show and evaluations:
        ev, srcs, _ = evaluations[0]
        report.steps.append(Step("examples", 0.0, examples_text(ev, srcs, show)))
    report.report = page
    return report


def record_run(out: Path, config: RunConfig, execution: dict) -> Path:
    """Write `<out>/run.json` (the config, its run id, how it runs). A different run's record
    already there is kept beside it as run-<its id>.json, never overwritten."""
    path = out / RUN_FILE
    if path.exists():
        try:
            old_id = json.loads(path.read_text(encoding="utf-8")).get("run_id")
        except (ValueError, OSError, AttributeError):
            old_id = None
        if old_id != config.run_id:
            os.replace(path, out / f"run-{old_id or 'unknown'}.json")
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, (json.dumps(run_record(config, execution), indent=2) + "\n").encode())
    return path


def _export(student: Path, out: Path) -> str:
    """Export once per trained student: an export made from this very student.json is kept."""
    if (out / STUDENT_FILE).exists():
        meta = read_meta(out)
        if meta.get("training") == read_meta(student).get("training"):
            return f"ONNX int8 student in {out} (already exported)"
    return str(export_student(student, out, int8=True))


def rewrite_sources_of(candidates_dir: Path, n: int) -> list[dict]:
    """The first n distinct full sentences (6 words or more) the teacher wrote, as rewrite
    sources: every context's y_orig in context order, then its sampled continuations (a run has
    as many contexts as y_origs, but several times as many continuations, so a larger
    rewrite_sources does not need more generation)."""
    rows = list(StageDir(candidates_dir).iter_rows())
    written = [(row["y_orig"], f"rw:{row['context_id']}") for row in rows]
    written += [(c, f"rw:{row['context_id']}.{j}") for row in rows for j, c in enumerate(row["candidates"])]
    seen: dict[str, dict] = {}
    for text, context_id in written:
        src = text.strip()
        if len(src.split()) >= 6 and src not in seen:
            seen[src] = {"src": src, "context_id": context_id}
            if len(seen) == n:
                break
    return list(seen.values())


def examples_text(ev, srcs: Sequence[str], n: int) -> str:
    """The first n sources of an evaluation with the student's and the prompted teacher's outputs."""
    student = [s for s in ev.systems if s.system.startswith("student")][-1]  # the asked-for decoding
    teacher = next((s for s in ev.systems if s.system.startswith("teacher")), None)
    lines = []
    for i in range(min(n, ev.n)):
        lines.append(f"  source : {srcs[i]}\n  student: {student.outputs[i]}")
        if teacher is not None:
            lines.append(f"  teacher: {teacher.outputs[i]}")
        lines.append("")
    return "\n".join(lines)
