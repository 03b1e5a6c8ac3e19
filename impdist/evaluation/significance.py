"""95% confidence intervals and paired bootstrap tests over evaluation items (Koehn 2004), the way
sacrebleu's paired bootstrap does them: the same seeded item resamples for every system, each
metric recomputed from the resampled items' sufficient statistics (impdist.metrics.item_stats).

A system's interval is the 2.5th-97.5th percentile of its resampled scores (sacrebleu's
estimate_ci bounds). A comparison of a system with a baseline gives the observed difference, the
percentile interval of the resampled differences, and sacrebleu's p-value: the share of draws
whose centred absolute difference exceeds the observed one, (c + 1) / (draws + 1). (A system
against itself thus gets the smallest p: read the interval of the difference, [0, 0] there.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from impdist.metrics import from_item_stats

DRAWS = 1000
SEED = 12345  # sacrebleu's default SACREBLEU_SEED


@dataclass(frozen=True)
class Interval:
    """A score and the bounds of its 95% bootstrap interval."""

    value: float
    low: float
    high: float

    def to_json(self) -> list[float]:
        return [round(self.value, 2), round(self.low, 2), round(self.high, 2)]


@dataclass(frozen=True)
class Comparison:
    """system - baseline on one metric: the difference, its 95% interval and the p-value."""

    system: str
    baseline: str
    metric: str
    diff: Interval
    p: float

    def to_json(self) -> dict:
        return {"system": self.system, "baseline": self.baseline, "metric": self.metric,
                "diff": round(self.diff.value, 2), "ci": [round(self.diff.low, 2), round(self.diff.high, 2)],
                "p": round(self.p, 4)}


def resample_weights(n: int, draws: int = DRAWS, seed: int = SEED) -> np.ndarray:
    """draws x n counts: how often each item is drawn in each resample (items drawn with replacement)."""
    if n < 1:
        raise ValueError("resampling needs at least one item")
    idx = np.random.default_rng(seed).choice(n, size=(draws, n), replace=True)  # sacrebleu's draws
    flat = (idx + n * np.arange(draws)[:, None]).ravel()
    return np.bincount(flat, minlength=draws * n).reshape(draws, n).astype(np.float64)


def _bounds(samples: np.ndarray) -> tuple[float, float]:
    """sacrebleu's 95% bounds: the sorted samples at n // 40 and n - n // 40 - 1."""
    s = np.sort(samples)
    k = len(s) // 40
    return float(s[k]), float(s[len(s) - k - 1])


class Bootstrap:
    """Resampled scores of several systems on one set: the same draws for all, so any two compare
    item by item (a paired test)."""

    def __init__(self, n: int, draws: int = DRAWS, seed: int = SEED):
        self.n, self.draws, self.seed = n, draws, seed
        self._weights = resample_weights(n, draws, seed)
        self._point: dict[str, dict[str, float]] = {}
        self._samples: dict[str, dict[str, np.ndarray]] = {}

    def __contains__(self, system: str) -> bool:
        return system in self._samples

    def add(self, system: str, items: Mapping[str, np.ndarray]) -> None:
        """Resample a system from its item statistics (impdist.metrics.item_stats)."""
        lengths = {len(v) for v in items.values()}
        if lengths != {self.n}:
            raise ValueError(f"{system}: item statistics for {sorted(lengths)} items, expected {self.n}")
        self._point[system] = {k: float(v[0]) for k, v in from_item_stats(dict(items)).items()}
        self._samples[system] = from_item_stats(dict(items), self._weights)

    def interval(self, system: str, metric: str) -> Interval:
        """The system's score on `metric` with its 95% interval."""
        return Interval(self._point[system][metric], *_bounds(self._samples[system][metric]))

    def intervals(self, system: str) -> dict[str, Interval]:
        """Every resampled metric of the system, with its interval."""
        return {m: self.interval(system, m) for m in self._samples[system]}

    def compare(self, system: str, baseline: str, metric: str) -> Comparison:
        """The paired test of `system` against `baseline` on `metric`."""
        observed = self._point[system][metric] - self._point[baseline][metric]
        diffs = self._samples[system][metric] - self._samples[baseline][metric]
        centred = np.abs(diffs) - np.abs(diffs).mean()
        p = (int(np.sum(centred > abs(observed))) + 1) / (self.draws + 1)
        return Comparison(system, baseline, metric, Interval(observed, *_bounds(diffs)), p)
