"""The dataset card: what the filter kept and why the rest went, as card.md + card.json + PNGs
beside the dataset's shards."""
from __future__ import annotations

import io
import json
import random
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from impdist.filters.lexical import dataset_diversity
from impdist.io.atomic import write_bytes_atomic

CARD_MD = "card.md"
CARD_JSON = "card.json"
HISTOGRAMS = ("compression", "rougeL", "bleu", "judge_fwd", "judge_bwd")
EXAMPLES = 10


def _histogram_png(key: str, kept: np.ndarray, rejected: np.ndarray) -> bytes:
    import matplotlib
    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    both = np.concatenate([kept, rejected])
    both = both[np.isfinite(both)]
    bins = np.histogram_bin_edges(both, bins=30) if both.size else 10
    ax.hist(rejected[np.isfinite(rejected)], bins=bins, alpha=0.6, label=f"rejected ({rejected.size})")
    ax.hist(kept[np.isfinite(kept)], bins=bins, alpha=0.8, label=f"kept ({kept.size})")
    ax.set_xlabel(key)
    ax.set_ylabel("pairs")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _column(rows: Sequence[dict], key: str) -> np.ndarray:
    return np.array([r["scores"][key] for r in rows if key in r["scores"]], dtype=np.float64)


def _summary(values: np.ndarray) -> dict:
    if not values.size:
        return {"n": 0}
    q = np.quantile(values, [0.1, 0.5, 0.9])
    return {"n": int(values.size), "mean": float(values.mean()), "p10": float(q[0]), "median": float(q[1]),
            "p90": float(q[2])}


def _md_pair(r: dict) -> str:
    why = f" — **{r['reason']}**" if r.get("reason") else ""
    scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["scores"].items()))
    return f"- `{r['id']}`{why}\n  - src: {r['src']}\n  - tgt: {r['tgt']}\n  - {scores}"


def write_card(folder: Path, *, kept: Sequence[dict], rejected: Sequence[dict],
               funnel: Sequence[tuple[str, int]], meta: dict) -> Path:
    """Write card.json, card.md and one histogram PNG per score into `folder`; return card.md."""
    folder = Path(folder)
    pngs = []
    for key in HISTOGRAMS:
        k, r = _column(kept, key), _column(rejected, key)
        if k.size or r.size:
            name = f"hist_{key}.png"
            write_bytes_atomic(folder / name, _histogram_png(key, k, r))
            pngs.append((key, name))
    diversity = dataset_diversity([r["src"] for r in kept], [r["tgt"] for r in kept]) if kept else {}
    reasons = Counter(r["reason"] for r in rejected)
    info = {"kept": len(kept), "rejected": len(rejected), "funnel": [list(s) for s in funnel],
            "reasons": dict(reasons), "diversity": diversity,
            "scores": {key: _summary(_column(kept, key)) for key in HISTOGRAMS},
            "histograms": [name for _, name in pngs], **meta}
    write_bytes_atomic(folder / CARD_JSON, (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())

    rng = random.Random(0)
    lines = [f"# Dataset card: {meta.get('task', '')} pairs", "",
             f"{len(kept)} pairs kept, {len(rejected)} rejected. Judge: `{meta.get('judge')}` at threshold "
             f"{meta.get('judge_threshold', float('nan')):.3f}.", "",
             "## Funnel", "", "| step | pairs left | dropped |", "|---|---:|---:|"]
    prev = None
    for step, count in funnel:
        lines.append(f"| {step} | {count} | {'' if prev is None else prev - count} |")
        prev = count
    lines += ["", "## Thresholds", "", "```json", json.dumps(meta.get("filters", {}), indent=2), "```", "",
              "## Scores of the kept pairs", "", "| score | n | mean | p10 | median | p90 |", "|---|---:|---:|---:|---:|---:|"]
    for key, s in info["scores"].items():
        if s["n"]:
            lines.append(f"| {key} | {s['n']} | {s['mean']:.3f} | {s['p10']:.3f} | {s['median']:.3f} | {s['p90']:.3f} |")
    lines += ["", "## Diversity of the kept pairs", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in diversity.items()] or ["- (no pairs kept)"]
    lines += ["", "## Histograms", ""] + [f"![{key}]({name})" for key, name in pngs]
    lines += ["", f"## {min(EXAMPLES, len(kept))} random kept pairs", ""]
    lines += [_md_pair(r) for r in rng.sample(list(kept), min(EXAMPLES, len(kept)))]
    lines += ["", f"## {min(EXAMPLES, len(rejected))} random rejected pairs", ""]
    lines += [_md_pair(r) for r in rng.sample(list(rejected), min(EXAMPLES, len(rejected)))]
    path = folder / CARD_MD
    write_bytes_atomic(path, ("\n".join(lines) + "\n").encode())
    return path
