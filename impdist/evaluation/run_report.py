"""The report of a whole run (`impdist run`): what each step did and how long it took, the
datasets (funnel, histograms), the student's training curve, the metric tables against the
baselines and the paper, and example outputs; written as report.md + report.html."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from impdist.evaluation.evaluate import LABELS, Evaluation
from impdist.evaluation.report import (Block, Heading, Image, Para, Table, metric_bars_png, rel, training_curve_png,
                                       write_report)
from impdist.student.meta import read_meta

EXAMPLES = 8
BAR_METRICS = {"paraphrase": ("ibleu", "bert_ibleu"), "summary": ("rougeL",)}


def _evaluation_blocks(ev: Evaluation, folder: Path) -> list[Block]:
    header, rows = ev.table()
    blocks: list[Block] = [Heading(f"{ev.set}: {ev.task}, {ev.n} items", 3),
                           Para(f"[low, high]: the 95% bootstrap interval ({ev.draws} resamples of the items, "
                                f"seed {ev.seed})."), Table(header, rows)]
    header, rows = ev.comparison_table()
    if rows:
        blocks += [Para("Paired bootstrap (the same resamples for both systems): the difference, its 95% "
                        "interval and the p-value (sacrebleu's)."), Table(header, rows)]
    blocks.append(Para("Signatures: " + "; ".join(f"{LABELS.get(k, k)} {sig}" for k, sig in ev.signatures().items())))
    keys = BAR_METRICS[ev.task]
    png = metric_bars_png([s.system for s in ev.systems], {LABELS[k]: [s.metrics[k] for s in ev.systems] for k in keys},
                          ev.set, folder / f"metrics_{ev.set}.png")
    blocks.append(Image(rel(png, folder), f"{ev.set} metrics"))
    return blocks


def _verdict(ev: Evaluation) -> str:
    """One sentence: does the student beat every baseline on this set's deciding metric(s), with
    the paired bootstrap interval of the difference above 0?"""
    students = [s.system for s in ev.systems if s.system.startswith("student")]
    if not students:
        return ""
    best = students[-1]
    tests = [c for c in ev.comparisons() if c.system == best and c.baseline != "copy-the-input" * (ev.task == "summary")]
    if not tests:
        return ""
    lost = [f"{c.baseline} on {LABELS[c.metric]} ({c.diff.value:+.2f}, interval [{c.diff.low:+.2f}, "
            f"{c.diff.high:+.2f}])" for c in tests if c.diff.low <= 0]
    if not lost:
        return f"{best} beats every baseline on {ev.set}, each difference's 95% interval above 0."
    return f"{best} is not shown to beat: " + "; ".join(lost) + "."


def _examples(ev: Evaluation, srcs: Sequence[str], refs: Sequence[Sequence[str]]) -> Block:
    header = ["source", "reference"] + [s.system for s in ev.systems if s.system != "copy-the-input"]
    shown = [s for s in ev.systems if s.system != "copy-the-input"]
    rows = [[srcs[i], refs[i][0]] + [s.outputs[i] for s in shown] for i in range(min(EXAMPLES, ev.n))]
    return Table(header, rows)


def write_run_report(out: Path, steps: Sequence[tuple[str, float, str]], datasets: dict[str, Path],
                     student: Path | None, evaluations: Sequence[tuple[Evaluation, list[str], list[list[str]]]]) -> Path:
    """Write out/report.{md,html} (plots beside them in out/report/); returns the HTML path."""
    folder = out
    assets = out / "report"
    assets.mkdir(parents=True, exist_ok=True)
    blocks: list[Block] = [Heading("Results"),
                           Para("Our systems on the dev sets; the paper's rows are on MRPC test and Gigaword, for scale.")]
    for ev, _, _ in evaluations:
        blocks += _evaluation_blocks(ev, assets)
        verdict = _verdict(ev)
        if verdict:
            blocks.append(Para(verdict))
    blocks += [Heading("Pipeline"), Table(["step", "seconds", "result"],
                                          [[name, f"{sec:.0f}", summary.splitlines()[0] if summary else ""]
                                           for name, sec, summary in steps])]
    for task, dataset in datasets.items():
        card = json.loads((dataset / "card.json").read_bytes())
        blocks += [Heading(f"Dataset: {task}"),
                   Para(f"{card['kept']} pairs kept of {card['kept'] + card['rejected']}; judge {card.get('judge')} at "
                        f"{card.get('judge_threshold', float('nan')):.3f}. Full card: {rel(dataset / 'README.md', folder)}"),
                   Table(["step", "pairs left"], [[str(s), str(n)] for s, n in card["funnel"]])]
        blocks += [Image(rel(dataset / name, folder), name) for name in card.get("histograms", [])]
    if student is not None:

        meta = read_meta(student)
        training = meta.get("training", {})
        png = training_curve_png(training.get("log", []), assets / "training_curve.png")
        blocks += [Heading("Student training"),
                   Para(f"{meta.get('base')} -> {student}: {training.get('steps')} steps ({training.get('status')}), "
                        f"{training.get('minutes')} min, {training.get('train_examples')} training pairs, precision "
                        f"{training.get('precision')}, {training.get('frozen_blocks')} frozen blocks.")]
        if png is not None:
            blocks.append(Image(rel(png, folder), "training curve"))
    blocks.append(Heading("Examples"))
    for ev, srcs, refs in evaluations:
        blocks += [Heading(ev.set, 3), _examples(ev, srcs, refs)]
    _, page = write_report(folder, blocks, f"impdist run: {out}")
    return page

