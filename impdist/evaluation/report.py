"""The run report: `report.md` and `report.html` side by side, built from one list of blocks so
the two never disagree; plots are PNGs (matplotlib) in the report's folder."""
from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence, Union

from impdist.io.atomic import write_bytes_atomic


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    path: str   # relative to the report's folder
    alt: str


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


Block = Union[Para, Table, Image, Heading]


def to_markdown(blocks: Sequence[Block]) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.path})")
        else:
            cell = lambda c: str(c).replace("|", "\\|").replace("\n", " ")
            out.append("\n".join(["| " + " | ".join(cell(h) for h in b.header) + " |",
                                  "|" + "|".join("---" for _ in b.header) + "|"]
                                 + ["| " + " | ".join(cell(c) for c in r) + " |" for r in b.rows]))
    return "\n\n".join(out) + "\n"


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
          "vertical-align:top}th{background:#f3f3f3}td:not(:first-child){text-align:right}"
          "table.text td{text-align:left}img{max-width:100%}h1{border-bottom:2px solid #444}")


def to_html(blocks: Sequence[Block], title: str) -> str:
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
           f"<style>{_STYLE}</style></head><body>"]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Image):
            out.append(f"<img src='{e(b.path)}' alt='{e(b.alt)}'>")
        else:
            numeric = all(_numberish(c) for r in b.rows for c in r[1:])
            out.append(f"<table class='{'' if numeric else 'text'}'><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in b.header)
                       + "</tr>" + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>"
                                          for r in b.rows) + "</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _numberish(cell: object) -> bool:
    try:
        float(str(cell).rstrip("%x"))
        return True
    except ValueError:
        return str(cell) == ""


def training_curve_png(log: Sequence[dict], path: Path) -> Path | None:
    """Train and held-out loss per step (the student.json log) as a PNG; None without a log."""
    points = [e for e in log if e.get("train_loss") is not None]
    if not points:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    ax.plot([e["step"] for e in points], [e["train_loss"] for e in points], marker="o", label="train")
    held = [e for e in log if e.get("eval_loss") is not None]
    if held:
        ax.plot([e["step"] for e in held], [e["eval_loss"] for e in held], marker="s", label="held-out")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss per target token")
    ax.set_title("student training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def metric_bars_png(names: Sequence[str], values: dict[str, Sequence[float]], title: str, path: Path) -> Path:
    """Grouped bars: one group per system, one bar per metric."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=100)
    x = np.arange(len(names))
    width = 0.8 / max(1, len(values))
    for i, (metric, vals) in enumerate(values.items()):
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=metric)
    ax.set_xticks(x, names, rotation=15, ha="right", fontsize=8)
    ax.axhline(0, color="#444", linewidth=0.8)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def scale_curve_png(rows: Sequence[dict], path: Path, labels: Mapping[str, str]) -> Path:
    """The student's deciding scores (with their 95% intervals; a second one on the right axis)
    against its data, as multiples of the run's (experiments/curve.py's rows), with the prompted
    teacher's score on the first, decoded as the student is. `labels`: metric key -> its name."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["scale"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    metrics = list(rows[0]["scores"])[:2]
    axes = [ax] + [ax.twinx() for _ in metrics[1:]]
    for i, (metric, axis) in enumerate(zip(metrics, axes)):
        v = [r["scores"][metric] for r in rows]
        label = f"student {labels.get(metric, metric)}"
        axis.errorbar(x, [p[0] for p in v], yerr=[[p[0] - p[1] for p in v], [p[2] - p[0] for p in v]], marker="o",
                      capsize=3, color=f"C{i}", label=label)
        axis.set_ylabel(label, color=f"C{i}")
    teacher = [r["scores"][metrics[0]][0] - r["vs_teacher"]["diff"] for r in rows]
    ax.plot(x, teacher, linestyle="--", color="C0", alpha=0.6, label=f"teacher {labels.get(metrics[0], metrics[0])}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(x, [f"{k}x" for k in x])
    ax.set_xlabel("rewrite data (sources x samples), multiple of make run's")
    ax.grid(alpha=0.3)
    handles = [h for a in axes for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def write_report(folder: str | os.PathLike, blocks: Sequence[Block], title: str) -> tuple[Path, Path]:
    """Write report.md and report.html into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    head = [Heading(title, 1), Para(f"Written {datetime.now(timezone.utc).isoformat(timespec='seconds')}.")]
    md, page = folder / "report.md", folder / "report.html"
    write_bytes_atomic(md, to_markdown(head + list(blocks)).encode())
    write_bytes_atomic(page, to_html(head + list(blocks), title).encode())
    return md, page


def rel(path: Path, folder: Path) -> str:
    """`path` relative to the report folder (reports stay valid when the run folder moves)."""
    return os.path.relpath(path, folder)
