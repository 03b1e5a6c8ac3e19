"""How well a judge separates equivalent from other pairs on labelled data: ROC AUC, best-F1 threshold.

Symmetric data (MRPC, STS) is scored the way the paraphrase filter scores pairs: a directional
judge gives min(score(a, b), score(b, a)). Directional data (SICK) is scored score(premise,
hypothesis) with entailment as the positive class; a three-way NLI judge also gets its accuracy.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from os import PathLike
from typing import Sequence

import numpy as np

from impdist.domains import JUDGE_SCORE
from impdist.judges.equivalence import Judge, JudgeError, bidirectional_scores, load_judge
from impdist.judges.labelled import HOLDOUT, LabelledPairs, Split, read_labelled

__all__ = ["Calibration", "calibrate", "calibrate_many", "roc_auc", "best_f1", "f1_at", "format_table",
           "read_two_classes", "check_two_classes"]


@dataclass(frozen=True)
class Calibration:
    """A judge on one split of a labelled file; P/R/F1 are at `threshold` (score >= threshold)."""

    judge: str
    data: str
    split: str
    n: int
    positives: int
    roc_auc: float
    threshold: float
    precision: float
    recall: float
    f1: float
    accuracy: float | None = None  # three-way accuracy of an NLI classifier on NLI data

    def as_dict(self) -> dict:
        return asdict(self)


def calibrate(judge: str | Judge, data: str | PathLike | LabelledPairs, *, split: Split = "heldout",
              threshold: float | None = None, holdout: float | None = None, device: str = "cpu",
              batch_size: int = 32, threads: int | None = None) -> Calibration:
    """Score one split of labelled pairs with a judge; best-F1 threshold unless one is given.

    holdout: the held-out fraction; by default the one the judge was trained with when it was
    trained on this very file (so its training pairs never leak in), else HOLDOUT.
    """
    JUDGE_SCORE.check(threshold, "threshold", optional=True)
    pairs = data if isinstance(data, LabelledPairs) else read_two_classes(data)
    if isinstance(judge, str):
        judge = load_judge(judge, device=device, batch_size=batch_size, threads=threads)
    part = pairs.split(split, _holdout(judge, pairs, holdout))
    check_two_classes(part, f"{pairs.path} ({split} split)", "; or calibrate on --split all")
    scores, accuracy = _scores(judge, part)
    positive = part.positive
    if threshold is None:
        threshold, p, r, f1 = best_f1(scores, positive)
    else:
        p, r, f1 = f1_at(scores, positive, threshold)
    return Calibration(judge.spec, pairs.name, split, len(part), int(positive.sum()),
                       roc_auc(scores, positive), float(threshold), p, r, f1, accuracy)


def calibrate_many(judges: Sequence[str | Judge], datas: Sequence[str | PathLike | LabelledPairs], *,
                   split: Split = "heldout", threshold: float | None = None, device: str = "cpu",
                   batch_size: int = 32, threads: int | None = None) -> list[Calibration]:
    """`impdist judge calibrate`: every judge on every labelled file, one Calibration each (judge
    by judge, files in order). Every file is read before any judge loads, so a bad one fails fast."""
    JUDGE_SCORE.check(threshold, "threshold", optional=True)
    pairs = [d if isinstance(d, LabelledPairs) else read_two_classes(d) for d in datas]
    rows = []
    for spec in judges:
        judge = load_judge(spec, device=device, batch_size=batch_size, threads=threads) if isinstance(spec, str) else spec
        rows += [calibrate(judge, data, split=split, threshold=threshold) for data in pairs]
    return rows


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(a random positive outscores a random negative), ties counting half (Mann-Whitney U)."""
    from scipy.stats import rankdata

    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(np.asarray(scores, dtype=np.float64))  # average ranks over ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def f1_at(scores: np.ndarray, positive: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(precision, recall, F1) when pairs scoring >= threshold are called positive."""
    positive = np.asarray(positive, dtype=bool)
    called = np.asarray(scores) >= threshold
    tp = int((called & positive).sum())
    return _prf(tp, int(called.sum()), int(positive.sum()))


def best_f1(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) at the threshold, among the scores, with the best F1."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    if len(scores) == 0:
        return math.nan, 0.0, 0.0, 0.0
    order = np.argsort(-scores, kind="stable")
    s, pos = scores[order], positive[order]
    tp, called = np.cumsum(pos), np.arange(1, len(s) + 1)
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # last item of each run of equal scores
    f1 = 2 * tp[ends] / (called[ends] + pos.sum())
    best = ends[int(np.argmax(f1))]  # the first maximum: the highest such threshold
    return (float(s[best]), *_prf(int(tp[best]), int(called[best]), int(pos.sum())))


def format_table(rows: Sequence[Calibration]) -> str:
    """A markdown table, one row per calibration."""
    lines = ["| judge | data | split | n | ROC AUC | threshold | P | R | F1 | 3-way acc |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in rows:
        acc = "" if c.accuracy is None else f"{c.accuracy:.3f}"
        lines.append(f"| {c.judge} | {c.data} | {c.split} | {c.n} | {c.roc_auc:.3f} | {c.threshold:.3f} "
                     f"| {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {acc} |")
    return "\n".join(lines)


def _prf(tp: int, called: int, positives: int) -> tuple[float, float, float]:
    p = tp / called if called else 0.0
    r = tp / positives if positives else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _scores(judge: Judge, part: LabelledPairs) -> tuple[np.ndarray, float | None]:
    """Scores of the positive class, and three-way accuracy when judge and data are both NLI."""
    if not part.directional:
        return bidirectional_scores(judge, part.a, part.b), None
    labels = [name.lower() for name in getattr(judge, "labels", ())]
    if sorted(labels) != sorted(part.label_names) or not hasattr(judge, "probabilities"):
        return judge.score(part.a, part.b), None
    probs = judge.probabilities(part.a, part.b)
    to_gold = np.array([part.label_names.index(name) for name in labels])
    accuracy = float((to_gold[probs.argmax(axis=1)] == part.labels).mean()) if len(part) else math.nan
    return probs[:, judge.positive], accuracy


def read_two_classes(data: str | PathLike) -> LabelledPairs:
    """A labelled file, refused when all its pairs are of one class (no AUC, no threshold to find)."""
    pairs = read_labelled(data)
    check_two_classes(pairs, str(pairs.path))
    return pairs


def check_two_classes(pairs: LabelledPairs, where: str, hint: str = "") -> None:
    """JudgeError unless `pairs` holds both equivalent and other pairs (else AUC and F1 are undefined)."""
    positives = int(pairs.positive.sum())
    if positives in (0, len(pairs)):
        held = ("no pairs" if not len(pairs) else
                f"only {'equivalent' if positives else 'non-equivalent'} pairs ({len(pairs)})")
        raise JudgeError(f"{where}: holds {held}; a judge is trained and calibrated on pairs of both classes: give "
                         f"labelled data with both labels{hint}")


def _holdout(judge: Judge, pairs: LabelledPairs, holdout: float | None) -> float:
    if holdout is not None:
        return holdout
    trained_on = getattr(judge, "meta", {}).get("data", {})
    if trained_on and trained_on.get("sha256") == pairs.sha256:
        return float(getattr(judge, "meta")["holdout"])
    return HOLDOUT
