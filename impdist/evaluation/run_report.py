"""The report of a whole run (`impdist run`): what each step did and how long it took, the
datasets (funnel, histograms), the student's training curve, the metric tables against the
baselines and the paper, the experiments run on the run folder (experiments/: ablation, scale
curve, self-distillation rounds), and example outputs; written as report.md + report.html."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from impdist.evaluation.evaluate import LABELS, Evaluation
from impdist.evaluation.report import (Block, Heading, Image, Para, Table, metric_bars_png, rel, scale_curve_png,
                                       training_curve_png, write_report)
from impdist.io.run_steps import STAGES_FILE, Step, table as step_table
from impdist.student.meta import read_meta

EXAMPLES = 8
# The experiments' results beside a run (experiments/*.py write RUN/FOLDER/NAME.json, FOLDER
# being NAME by default): each one's title and the key that labels its rows.
EXPERIMENTS = {"ablation": ("Ablation: which pairs teach the student", "mix"),
               "curve": ("Quality against data", "scale"),
               "rounds": ("Self-distillation rounds", "round")}
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


def _interval(v: Sequence[float]) -> str:
    return f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]"


def _experiment_blocks(out: Path, assets: Path) -> list[Block]:
    """A table per experiment found beside the run (student rows with their deciding scores and
    intervals, the paired test against the prompted teacher decoded as the student is, and the
    seconds of each row's steps), the curve plotted."""
    blocks: list[Block] = []
    for name, (title, label) in EXPERIMENTS.items():
        for path in sorted(out.glob(f"*/{name}.json")):
            found = json.loads(path.read_bytes())
            rows = found["rows"]
            if not rows:
                continue
            scores = list(rows[0]["scores"])
            shown = [k for k in ("copies", "compression") if k in rows[0]]
            blocks += [Heading(f"{title} ({rel(path, out)})"),
                       Para(f"{found['data']}, {found.get('limit') or 'all'} items; [low, high]: 95% bootstrap "
                            f"intervals; the difference from {rows[0]['vs_teacher']['baseline']} is a paired "
                            "bootstrap.")]
            table = []
            for r in rows:
                t = r["vs_teacher"]
                seconds = sum(v for k, v in r.items() if k.endswith("_s"))
                table.append([str(r[label]), str(r.get("pairs") or ""), str(r.get("steps") or ""),
                              *(_interval(r["scores"][m]) for m in scores), *(f"{r[k]:.2f}" for k in shown),
                              f"{t['diff']:+.2f} [{t['ci'][0]:+.2f}, {t['ci'][1]:+.2f}]", f"{seconds:.0f}"])
            blocks.append(Table([label, "pairs", "steps", *(LABELS[m] for m in scores), *(LABELS[k] for k in shown),
                                 f"{LABELS[scores[0]]} − teacher", "seconds"], table))
            if name == "curve":
                png = scale_curve_png(rows, assets / f"{path.parent.name}.png", LABELS)
                blocks.append(Image(rel(png, out), "quality against data"))
    return blocks


def write_run_report(out: Path, steps: Sequence[Step], datasets: dict[str, Path], students: Mapping[str, Path],
                     evaluations: Sequence[tuple[Evaluation, list[str], list[list[str]]]]) -> Path:
    """Write out/report.{md,html} (plots beside them in out/report/); returns the HTML path.
    `students` maps each task to its trained student's folder."""
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
    header, rows = step_table(steps)
    blocks += [Heading("Pipeline"),
               Para("Each step's wall time, its share of the run, what it worked through and how fast "
                    f"(also in {STAGES_FILE}); a step resumed from an earlier run shows no rate."),
               Table(header, rows),
               Table(["step", "result"], [[s.name, s.summary.splitlines()[0] if s.summary else ""] for s in steps])]
    for task, dataset in datasets.items():
        card = json.loads((dataset / "card.json").read_bytes())
        blocks += [Heading(f"Dataset: {task}"),
                   Para(f"{card['kept']} pairs kept of {card['kept'] + card['rejected']}; judge {card.get('judge')} at "
                        f"{card.get('judge_threshold', float('nan')):.3f}. Full card: {rel(dataset / 'README.md', folder)}"),
                   Table(["step", "pairs left"], [[str(s), str(n)] for s, n in card["funnel"]])]
        blocks += [Image(rel(dataset / name, folder), name) for name in card.get("histograms", [])]
    for task, student in students.items():
        meta = read_meta(student)
        training = meta.get("training", {})
        png = training_curve_png(training.get("log", []), assets / f"training_curve_{task}.png")
        blocks += [Heading(f"Student training: {task}"),
                   Para(f"{meta.get('base')} -> {rel(student, folder)}: {training.get('steps')} steps "
                        f"({training.get('status')}), {training.get('minutes')} min, {training.get('train_examples')} "
                        f"training pairs, precision {training.get('precision')}, {training.get('frozen_blocks')} "
                        "frozen blocks.")]
        if png is not None:
            blocks.append(Image(rel(png, folder), f"training curve ({task})"))
    blocks += _experiment_blocks(out, assets)
    blocks.append(Heading("Examples"))
    for ev, srcs, refs in evaluations:
        blocks += [Heading(ev.set, 3), _examples(ev, srcs, refs)]
    _, page = write_report(folder, blocks, f"impdist run: {out}")
    return page

