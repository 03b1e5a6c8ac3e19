"""The filter chain's decisions: thresholds, the order of the filters, and each pair's first
failing reason. Everything here reads stored scores only, so `--rethreshold` re-runs it
without loading a model.

Order: cheap lexical filters, then the judge, then the dedup steps (exact, entailment graph,
MinHash near-duplicates, semantic). A pair carries the reason of the first filter it fails;
"" means kept.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from impdist.filters import dedup
from impdist.filters.informativeness import informativeness
from impdist.filters.pairs import check_task

# Reasons, in chain order (the funnel and the card list them in this order).
LENGTH_RATIO = "length_ratio"
COMPRESSION = "compression"
TOO_SIMILAR = "too_similar"
NUMBERS = "numbers"
UNJUDGED = "unjudged"
NOT_EQUIVALENT = "not_equivalent"
EXACT_DUPLICATE = "exact_duplicate"
GRAPH_DUPLICATE = "graph_duplicate"
NEAR_DUPLICATE = "near_duplicate"
SEMANTIC_DUPLICATE = "semantic_duplicate"
REASONS = (LENGTH_RATIO, COMPRESSION, TOO_SIMILAR, NUMBERS, UNJUDGED, NOT_EQUIVALENT, EXACT_DUPLICATE,
           GRAPH_DUPLICATE, NEAR_DUPLICATE, SEMANTIC_DUPLICATE)


@dataclass(frozen=True)
class FilterConfig:
    """Every threshold of the chain; part of the dataset stage's config (and run id)."""

    task: str = "paraphrase"
    min_len_ratio: float = 0.8        # paraphrase: len(tgt) / len(src) in characters, inclusive
    max_len_ratio: float = 1.5
    max_compression: float = 0.75     # summary: len(tgt) / len(src) at most this
    max_rouge_l: float = 0.75         # pairs closer than this are near-copies, dropped
    numbers: bool = True              # the numbers of source and target must agree
    judge_threshold: float | None = None  # None: the judge's own default
    entailment_graph: bool = True     # keep one pair per connected component of each group
    near_duplicate: float | None = 0.8    # MinHash-LSH Jaccard threshold; None disables
    semantic_duplicate: float | None = 0.95  # cosine of pair embeddings; None disables

    def __post_init__(self) -> None:
        check_task(self.task)
        if not 0 < self.min_len_ratio <= self.max_len_ratio:
            raise ValueError(f"need 0 < min_len_ratio <= max_len_ratio, got {self.min_len_ratio}, "
                             f"{self.max_len_ratio}")
        for name in ("max_compression", "max_rouge_l"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("near_duplicate", "semantic_duplicate"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1] or None (off), got {value}")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ThresholdFilter:
    """A per-pair test on stored scores: pairs whose scores fail it get `reason`."""

    reason: str
    keys: tuple[str, ...]
    low: float = -math.inf
    high: float = math.inf

    def passes(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        ok = np.ones(len(next(iter(scores.values()))) if scores else 0, dtype=bool)
        for key in self.keys:
            v = scores[key]
            with np.errstate(invalid="ignore"):
                ok &= (v >= self.low) & (v <= self.high)  # NaN (not scored) fails
        return ok


def lexical_filters(cfg: FilterConfig) -> list[ThresholdFilter]:
    """The cheap filters, run before any model."""
    if cfg.task == "paraphrase":
        filters = [ThresholdFilter(LENGTH_RATIO, ("compression",), cfg.min_len_ratio, cfg.max_len_ratio)]
    else:
        filters = [ThresholdFilter(COMPRESSION, ("compression",), high=cfg.max_compression)]
    filters.append(ThresholdFilter(TOO_SIMILAR, ("rougeL",), high=cfg.max_rouge_l))
    if cfg.numbers:
        filters.append(ThresholdFilter(NUMBERS, ("numbers_ok",), low=1.0))
    return filters


def judge_directions(task: str) -> tuple[str, ...]:
    """Paraphrase: entailment both ways; summary: from the longer source to the shorter target."""
    return ("judge_fwd", "judge_bwd") if task == "paraphrase" else ("judge_fwd",)


def judge_filter(cfg: FilterConfig, threshold: float) -> ThresholdFilter:
    return ThresholdFilter(NOT_EQUIVALENT, judge_directions(cfg.task), low=threshold)


def score_arrays(records: Sequence[dict], keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Columns of the records' `scores` maps; NaN where a record has no such score."""
    return {k: np.array([r["scores"].get(k, np.nan) for r in records], dtype=np.float64) for k in keys}


@dataclass
class Decision:
    """The chain's verdict: a reason per record ("" = kept) and the funnel."""

    reasons: list[str]
    funnel: list[tuple[str, int]] = field(default_factory=list)  # (step, pairs left after it)

    @property
    def kept(self) -> np.ndarray:
        return np.array([not r for r in self.reasons], dtype=bool)


def decide(records: Sequence[dict], cfg: FilterConfig, judge_threshold: float,
           embeddings: np.ndarray | None = None) -> Decision:
    """Apply the chain to scored records (in their stored order, which makes dedup's "first
    one wins" deterministic). `embeddings` holds one L2-normalised row per record (NaN rows
    where none was computed) for semantic dedup."""
    n = len(records)
    reasons = [""] * n
    alive = np.ones(n, dtype=bool)
    funnel = [("pairs", n)]

    def drop(mask: np.ndarray, reason: str) -> None:
        for i in np.flatnonzero(mask & alive):
            reasons[i] = reason
        alive[mask] = False
        funnel.append((reason, int(alive.sum())))

    filters = lexical_filters(cfg)
    keys = sorted({k for f in filters for k in f.keys} | set(judge_directions(cfg.task)))
    scores = score_arrays(records, keys)
    for f in filters:
        drop(~f.passes(scores), f.reason)
    judged = np.all([~np.isnan(scores[k]) for k in judge_directions(cfg.task)], axis=0) if n else alive
    drop(~judged, UNJUDGED)
    drop(~judge_filter(cfg, judge_threshold).passes(scores), NOT_EQUIVALENT)

    idx = np.flatnonzero(alive)
    srcs = [records[i]["src"] for i in idx]
    tgts = [records[i]["tgt"] for i in idx]
    drop(_at(idx, n, dedup.exact_duplicates(srcs, tgts, symmetric=cfg.task == "paraphrase")), EXACT_DUPLICATE)
    if cfg.entailment_graph:
        idx = np.flatnonzero(alive)
        drop(_at(idx, n, ~_graph_keep(records, idx, _graph_cost(records, cfg.task, scores["rougeL"]))),
             GRAPH_DUPLICATE)
    if cfg.near_duplicate is not None:
        idx = np.flatnonzero(alive)
        texts = [(records[i]["src"], records[i]["tgt"]) for i in idx]
        drop(_at(idx, n, dedup.near_duplicates(texts, threshold=cfg.near_duplicate)), NEAR_DUPLICATE)
    if cfg.semantic_duplicate is not None and embeddings is not None:
        idx = np.flatnonzero(alive & ~np.isnan(embeddings).any(axis=1)) if n else np.flatnonzero(alive)
        sub = np.ascontiguousarray(embeddings[idx], dtype=np.float32)
        drop(_at(idx, n, dedup.semantic_duplicates(sub, threshold=cfg.semantic_duplicate)), SEMANTIC_DUPLICATE)
    return Decision(reasons, funnel)


def _at(idx: np.ndarray, n: int, sub_mask: np.ndarray) -> np.ndarray:
    """Scatter a mask over the rows `idx` into a mask over all n rows."""
    mask = np.zeros(n, dtype=bool)
    mask[idx] = sub_mask
    return mask


def _graph_cost(records: Sequence[dict], task: str, rouge_l: np.ndarray) -> np.ndarray:
    """What the graph step minimises per component. Paraphrase: overlap (ROUGE-L), for the most
    reworded pair. Summary: minus informativeness, for the summary that keeps the most meaning
    for its length; overlap would pick the shortest, whatever it lost. A summary record scored
    before similarities were stored counts as the least informative."""
    if task == "paraphrase":
        return rouge_l
    scores = score_arrays(records, ("similarity", "compression"))
    return np.nan_to_num(-informativeness(scores["similarity"], scores["compression"]), nan=np.inf)


def _graph_keep(records: Sequence[dict], idx: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """The paper's entailment-graph grouping: sentences are nodes, surviving pairs are edges;
    keep the lowest-cost pair of each connected component (see _graph_cost)."""
    node: dict[tuple[str, int], int] = {}
    a = np.empty(len(idx), dtype=np.int64)
    b = np.empty(len(idx), dtype=np.int64)
    for k, i in enumerate(idx):
        r = records[i]
        a[k] = node.setdefault((r["context_id"], r["src_sid"]), len(node))
        b[k] = node.setdefault((r["context_id"], r["tgt_sid"]), len(node))
    return dedup.component_representatives(a, b, cost[idx])
