"""The dataset card: what the filter kept and why the rest went, as a Hub-ready README.md (YAML
metadata: licence, language, task categories, size, `configs` pointing at the shards, teacher,
impdist version, filter settings; built and checked with huggingface_hub's DatasetCard) plus
card.json and one histogram PNG per score, beside the dataset's shards."""
from __future__ import annotations

import io
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from impdist._version import __version__
from impdist.filters.lexical import dataset_diversity
from impdist.io.atomic import write_bytes_atomic
from impdist.models.embedded import hub_model_id

CARD_MD = "README.md"
CARD_JSON = "card.json"
HISTOGRAMS = ("compression", "rougeL", "bleu", "judge_fwd", "judge_bwd")
EXAMPLES = 10
LICENSE = "unknown"  # the teacher's text is the data: its terms, and the corpus's, decide; the user sets it
TASK_CATEGORIES = {"paraphrase": ["text-generation", "sentence-similarity"], "summary": ["summarization"]}
SPLITS = (("default", "kept"), ("rejected", "rejected"))  # (config name, shard prefix)
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))


def size_category(n: int) -> str:
    """The Hub's size_categories bucket of a dataset of `n` rows."""
    return next((name for limit, name in _SIZES if n < limit), "n>100M")


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


def _configs(folder: Path) -> list[dict]:
    """One `configs` entry per kind of shard in `folder` (kept: `default`; rejected), by file pattern."""
    out = []
    for name, prefix in SPLITS:
        for fmt in ("parquet", "jsonl"):
            if any(folder.glob(f"{prefix}-*.{fmt}")):
                out.append({"config_name": name, "data_files": [{"split": "train", "path": f"{prefix}-*.{fmt}"}]})
                break
    return out


def card_data(folder: Path, *, kept: int, meta: dict) -> Any:
    """The README's YAML metadata as a huggingface_hub DatasetCardData."""
    from huggingface_hub import DatasetCardData  # the filters extra brings it; imported when a card is written

    tasks = [t for t in str(meta.get("task", "")).split("+") if t]
    teacher = meta.get("teacher")
    impdist = {"version": __version__, "task": meta.get("task"), "teacher": teacher,
               "teacher_hub_id": hub_model_id(teacher), "judge": meta.get("judge"),
               "judge_threshold": meta.get("judge_threshold"), "filters": meta.get("filters"),
               "self_distillation_round": meta.get("self_distillation_round")}
    return DatasetCardData(
        license=meta.get("license", LICENSE), language=["en"], size_categories=[size_category(kept)],
        task_categories=sorted({c for t in tasks for c in TASK_CATEGORIES.get(t, [])}) or None,
        pretty_name=f"impdist {meta.get('task', '')} pairs".replace("  ", " "),
        tags=["impdist", "synthetic", "impossible-distillation", *tasks],
        configs=_configs(folder), impdist={k: v for k, v in impdist.items() if v is not None})


def dataset_card(folder: Path, body: str, *, kept: int, meta: dict) -> Any:
    """The card (huggingface_hub DatasetCard) of the dataset in `folder`; raises ValueError if
    huggingface_hub cannot read back the metadata it wrote."""
    from huggingface_hub import DatasetCard  # the filters extra brings it; imported when a card is written

    data = card_data(folder, kept=kept, meta=meta)
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    if card.data.to_dict() != data.to_dict():  # what the Hub will parse is what we meant
        raise ValueError(f"the dataset card's metadata does not read back: {card.data.to_dict()}")
    return card


def _load_hint(folder: Path) -> list[str]:
    configs = _configs(folder)
    if not configs:
        return []
    builder = "parquet" if configs[0]["data_files"][0]["path"].endswith(".parquet") else "json"
    return ["## Load it", "", "```python", "from datasets import load_dataset", "",
            f'kept = load_dataset("{builder}", data_files="FOLDER/{configs[0]["data_files"][0]["path"]}", split="train")',
            'kept = load_dataset("OWNER/NAME", split="train")  # once pushed: impdist push FOLDER OWNER/NAME',
            "```", "", "Each row: `id`, `src`, `tgt`, `task`, `context_id`, `round`, and `scores` (the filters' "
            "numbers); rejected rows also carry the `reason` they were dropped for.", ""]


def write_card(folder: Path, *, kept: Sequence[dict], rejected: Sequence[dict],
               funnel: Sequence[tuple[str, int]], meta: dict) -> Path:
    """Write card.json, README.md and one histogram PNG per score into `folder` (after its
    shards, which the README's `configs` name); return README.md."""
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
    teacher = f" Teacher: `{meta['teacher']}`." if meta.get("teacher") else ""
    lines = [f"# Dataset card: {meta.get('task', '')} pairs", "",
             f"{len(kept)} pairs kept, {len(rejected)} rejected, by impdist {__version__} (Impossible Distillation, "
             f"Jung et al. 2023).{teacher} Judge: `{meta.get('judge')}` at threshold "
             f"{meta.get('judge_threshold', float('nan')):.3f}.", ""]
    lines += _load_hint(folder)
    lines += ["## Funnel", "", "| step | pairs left | dropped |", "|---|---:|---:|"]
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
    lines += ["", "## Licence", "", f"`{meta.get('license', LICENSE)}`: the pairs are the teacher's text (and your "
              "corpus's, if you gave one); set the licence their terms allow before you publish them.", ""]
    card = dataset_card(folder, "\n".join(lines), kept=len(kept), meta=meta)
    path = folder / CARD_MD
    write_bytes_atomic(path, str(card).encode())
    return path
