"""The main job (`impdist run`, what `make run` calls): every stage of the pipeline on the
embedded defaults, each resumable, ending with where everything is."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import click


@dataclass
class RunReport:
    """What each step produced, in order, as (step, seconds, summary)."""

    out: Path
    steps: list[tuple[str, float, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"impdist run: everything is under {self.out}"]
        for step, seconds, summary in self.steps:
            lines.append(f"\n== {step} ({seconds:.0f} s)\n{summary}")
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
    task: str = "paraphrase",
    seed: int = 0,
    quiet: bool = False,
) -> RunReport:
    """Generate candidates with the teacher, train the paraphrase judge on `judge_data` (labelled
    pairs; without it the embedding judge is used), and filter the candidates into a dataset."""
    from impdist.filters.pipeline import filter_dataset
    from impdist.generate.pipeline import generate

    out = Path(out)
    report = RunReport(out)
    _step(report, "generate", quiet, lambda: generate(teacher, contexts, samples, out, seed=seed, quiet=quiet))
    judge = "embedding"
    if judge_data is not None:
        from impdist.filters.judge_train import train_judge

        judge_dir = out / "judge"
        _step(report, "judge", quiet, lambda: train_judge(judge_base, judge_data, "paraphrase", judge_dir, quiet=quiet))
        judge = f"paraphrase:{judge_dir}"
    _step(report, "filter", quiet, lambda: filter_dataset(out, task=task, judge=judge, seed=seed, quiet=quiet))
    return report
