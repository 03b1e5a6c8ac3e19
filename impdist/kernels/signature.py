"""Signatures naming everything that changes a metric's number (as sacrebleu prints them)."""
from __future__ import annotations

from impdist._version import __version__


def signature(metric: str, device: str = "cpu", **options: object) -> str:
    """E.g. ``signature("rougeL", stem=False)`` -> ``rougeL|tok:rouge-score|stem:no|impl:cpu|v:0.2.0``."""
    tok = {"bleu": "13a", "self_bleu": "split", "distinct": "split", "jaccard": "split", "minhash": "split"}
    base = "rouge" if metric.startswith("rouge") else metric
    parts = [metric, f"tok:{tok.get(base, 'rouge-score')}"]
    for key, value in sorted(options.items()):
        if isinstance(value, bool):
            value = "yes" if value else "no"
        parts.append(f"{key}:{value}")
    parts += [f"impl:{device}", f"v:{__version__}"]
    return "|".join(parts)
