"""The filter chain: its thresholds (`FilterConfig`), its steps in order (`STEPS`), and
`decide()`, which runs them and gives each pair the reason of the first step it fails ("" =
kept). Everything here reads stored scores only, so `--rethreshold` re-runs it without loading a
model.

Order: cheap lexical steps, then the judge, then the dedup steps (exact, entailment graph,
MinHash near-duplicates, semantic). A step is a small frozen dataclass whose fields are the
`FilterConfig` fields it reads (copied by name), so a new filter is a config field, a class and
one entry in `STEPS`; `decide()` needs no edit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar, Sequence

import numpy as np

from impdist.domains import JUDGE_SCORE, POSITIVE, UNIT, setting
from impdist.errors import InvalidValueError
from impdist.filters import dedup
from impdist.filters.informativeness import informativeness
from impdist.io.stage_config import Config
from impdist.tasks import TASKS, check_task

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


@dataclass(frozen=True)
class FilterConfig(Config):
    """Every threshold of the chain; part of the dataset stage's config (and run id)."""

    task: str = "paraphrase"
    min_len_ratio: float = setting(POSITIVE, 0.8)  # paraphrase: len(tgt) / len(src) in characters, inclusive
    max_len_ratio: float = setting(POSITIVE, 1.5)
    max_compression: float = setting(UNIT, 0.75)   # summary: len(tgt) / len(src) at most this
    max_rouge_l: float = setting(UNIT, 0.75)       # pairs closer than this are near-copies, dropped
    numbers: bool = True              # the numbers of source and target must agree
    judge_threshold: float | None = setting(JUDGE_SCORE, None, optional=True)  # None: the judge's own default
    entailment_graph: bool = True     # keep one pair per connected component of each group
    near_duplicate: float | None = setting(UNIT, 0.8, optional=True)  # MinHash-LSH Jaccard threshold; None disables
    semantic_duplicate: float | None = setting(UNIT, 0.95, optional=True)  # cosine of pair embeddings; None disables

    def __post_init__(self) -> None:
        check_task(self.task)
        super().__post_init__()
        if not self.min_len_ratio <= self.max_len_ratio:
            raise InvalidValueError(f"need min_len_ratio <= max_len_ratio, got {self.min_len_ratio}, "
                                    f"{self.max_len_ratio}")

    def lexical_gate(self) -> FilterConfig:
        """The settings of the lexical steps only (the rest at their defaults): what decides which
        pairs the scored stage judges, and so the only part of this config that stage records."""
        return FilterConfig(**{name: getattr(self, name) for name in lexical_settings()})


class ScoredPairs:
    """The records the chain decides on, their score columns (read from the `scores` maps once,
    NaN where a record has none) and their pair embeddings (None when none were computed)."""

    def __init__(self, records: Sequence[dict], embeddings: np.ndarray | None = None) -> None:
        self.records, self.embeddings = records, embeddings
        self._columns: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.records)

    def score(self, key: str) -> np.ndarray:
        """The column of score `key`, one float per record."""
        if key not in self._columns:
            self._columns[key] = score_arrays(self.records, (key,))[key]
        return self._columns[key]


@dataclass(frozen=True)
class FilterStep:
    """One step of the chain. Subclasses are frozen dataclasses whose fields are FilterConfig
    fields; `from_config` copies them, and a step whose setting is None or False is off."""

    reason: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]] = TASKS
    lexical: ClassVar[bool] = False  # reads lexical scores only: also gates the judge in the scored stage

    @classmethod
    def from_config(cls, cfg: FilterConfig) -> FilterStep | None:
        """This step with cfg's settings, or None where cfg turns it off (or it is for another task)."""
        if cfg.task not in cls.tasks:
            return None
        values = {f.name: getattr(cfg, f.name) for f in fields(cls)}
        if any(v is None or v is False for v in values.values()):
            return None
        return cls(**values)

    def rejects(self, pairs: ScoredPairs, idx: np.ndarray) -> np.ndarray | None:
        """Which of the rows `idx` (the pairs still in, in stored order) this step drops, as a
        mask over idx; None where the step has nothing to run on (it then leaves no funnel line)."""
        raise NotImplementedError


@dataclass(frozen=True)
class PairTest(FilterStep):
    """A per-pair test on stored scores: a pair fails when any score of `keys` is outside
    [low, high] or missing (NaN)."""

    def bounds(self) -> tuple[tuple[str, ...], float, float]:
        """(keys, low, high)."""
        raise NotImplementedError

    def passes(self, pairs: ScoredPairs) -> np.ndarray:
        """A mask over all pairs: True where the pair passes."""
        keys, low, high = self.bounds()
        ok = np.ones(len(pairs), dtype=bool)
        for key in keys:
            v = pairs.score(key)
            with np.errstate(invalid="ignore"):
                ok &= (v >= low) & (v <= high)  # NaN (not scored) fails
        return ok

    def rejects(self, pairs: ScoredPairs, idx: np.ndarray) -> np.ndarray:
        return ~self.passes(pairs)[idx]


@dataclass(frozen=True)
class LengthRatio(PairTest):
    """Paraphrase: len(tgt) / len(src) within [min_len_ratio, max_len_ratio]."""

    reason = LENGTH_RATIO
    tasks = ("paraphrase",)
    lexical = True
    min_len_ratio: float
    max_len_ratio: float

    def bounds(self) -> tuple[tuple[str, ...], float, float]:
        return ("compression",), self.min_len_ratio, self.max_len_ratio


@dataclass(frozen=True)
class Compression(PairTest):
    """Summary: len(tgt) / len(src) at most max_compression."""

    reason = COMPRESSION
    tasks = ("summary",)
    lexical = True
    max_compression: float

    def bounds(self) -> tuple[tuple[str, ...], float, float]:
        return ("compression",), -math.inf, self.max_compression


@dataclass(frozen=True)
class TooSimilar(PairTest):
    """Lexical dissimilarity: ROUGE-L of source and target at most max_rouge_l."""

    reason = TOO_SIMILAR
    lexical = True
    max_rouge_l: float

    def bounds(self) -> tuple[tuple[str, ...], float, float]:
        return ("rougeL",), -math.inf, self.max_rouge_l


@dataclass(frozen=True)
class Numbers(PairTest):
    """Number consistency, scored by impdist.filters.numbers (numbers_ok = 1)."""

    reason = NUMBERS
    lexical = True
    numbers: bool

    def bounds(self) -> tuple[tuple[str, ...], float, float]:
        return ("numbers_ok",), 1.0, math.inf


def judge_directions(task: str) -> tuple[str, ...]:
    """Paraphrase: entailment both ways; summary: from the longer source to the shorter target."""
    return ("judge_fwd", "judge_bwd") if task == "paraphrase" else ("judge_fwd",)


@dataclass(frozen=True)
class Unjudged(PairTest):
    """Pairs the judge never saw (they failed a lexical step when scored, and a re-threshold let
    them through): no verdict is no pass."""

    reason = UNJUDGED
    task: str

    def bounds(self) -> tuple[tuple[str, ...], float, float]:
        return judge_directions(self.task), -math.inf, math.inf


@dataclass(frozen=True)
class NotEquivalent(PairTest):
    """The judge: every direction of the task scores at least judge_threshold."""

    reason = NOT_EQUIVALENT
    task: str
    judge_threshold: float

    def bounds(self) -> tuple[tuple[str, ...], float, float]:
        return judge_directions(self.task), self.judge_threshold, math.inf


@dataclass(frozen=True)
class ExactDuplicate(FilterStep):
    """Case- and space-folded text seen before; paraphrase pairs are unordered."""

    reason = EXACT_DUPLICATE
    task: str

    def rejects(self, pairs: ScoredPairs, idx: np.ndarray) -> np.ndarray:
        srcs = [pairs.records[i]["src"] for i in idx]
        tgts = [pairs.records[i]["tgt"] for i in idx]
        return dedup.exact_duplicates(srcs, tgts, symmetric=self.task == "paraphrase")


@dataclass(frozen=True)
class EntailmentGraph(FilterStep):
    """The paper's grouping: per context, sentences are nodes and surviving pairs edges; keep the
    lowest-cost pair of each connected component (see `graph_cost`)."""

    reason = GRAPH_DUPLICATE
    task: str
    entailment_graph: bool

    def rejects(self, pairs: ScoredPairs, idx: np.ndarray) -> np.ndarray:
        return ~_graph_keep(pairs.records, idx, graph_cost(pairs, self.task))


@dataclass(frozen=True)
class NearDuplicate(FilterStep):
    """MinHash-LSH near-duplicates of (src, tgt) at Jaccard near_duplicate; the first one stays."""

    reason = NEAR_DUPLICATE
    near_duplicate: float

    def rejects(self, pairs: ScoredPairs, idx: np.ndarray) -> np.ndarray:
        texts = [(pairs.records[i]["src"], pairs.records[i]["tgt"]) for i in idx]
        return dedup.near_duplicates(texts, threshold=self.near_duplicate)


@dataclass(frozen=True)
class SemanticDuplicate(FilterStep):
    """Pair embeddings with cosine >= semantic_duplicate; rows without an embedding are never dropped."""

    reason = SEMANTIC_DUPLICATE
    semantic_duplicate: float

    def rejects(self, pairs: ScoredPairs, idx: np.ndarray) -> np.ndarray | None:
        if pairs.embeddings is None:
            return None
        emb = pairs.embeddings[idx]
        has = ~np.isnan(emb).any(axis=1) if len(idx) else np.ones(0, dtype=bool)
        mask = np.zeros(len(idx), dtype=bool)
        mask[has] = dedup.semantic_duplicates(np.ascontiguousarray(emb[has], dtype=np.float32),
                                              threshold=self.semantic_duplicate)
        return mask


# The chain, in order. A pair carries the reason of the first step it fails.
STEPS: tuple[type[FilterStep], ...] = (LengthRatio, Compression, TooSimilar, Numbers, Unjudged, NotEquivalent,
                                       ExactDuplicate, EntailmentGraph, NearDuplicate, SemanticDuplicate)
REASONS = tuple(step.reason for step in STEPS)


def lexical_settings() -> tuple[str, ...]:
    """The FilterConfig fields the lexical steps read, and the task."""
    return tuple(sorted({"task"} | {f.name for step in STEPS if step.lexical for f in fields(step)}))


def chain_steps(cfg: FilterConfig) -> list[FilterStep]:
    """The steps cfg turns on, in chain order."""
    return [step for cls in STEPS if (step := cls.from_config(cfg)) is not None]


def lexical_filters(cfg: FilterConfig) -> list[PairTest]:
    """The cheap steps, run before any model (the scored stage judges only the pairs passing them)."""
    return [step for step in chain_steps(cfg) if step.lexical]


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
    """Run the chain over scored records (in their stored order, which makes dedup's "first one
    wins" deterministic) with the judge at `judge_threshold`. `embeddings` holds one
    L2-normalised row per record (NaN rows where none was computed) for semantic dedup."""
    pairs = ScoredPairs(records, embeddings)
    reasons = [""] * len(pairs)
    alive = np.ones(len(pairs), dtype=bool)
    funnel = [("pairs", len(pairs))]
    for step in chain_steps(replace(cfg, judge_threshold=judge_threshold)):
        idx = np.flatnonzero(alive)
        dropped = step.rejects(pairs, idx)
        if dropped is None:
            continue
        for i in idx[dropped]:
            reasons[i] = step.reason
        alive[idx[dropped]] = False
        funnel.append((step.reason, int(alive.sum())))
    return Decision(reasons, funnel)


def graph_cost(pairs: ScoredPairs, task: str) -> np.ndarray:
    """What the graph step minimises per component, for every pair. Paraphrase: overlap
    (ROUGE-L), for the most reworded pair. Summary: minus informativeness, for the summary that
    keeps the most meaning for its length; overlap would pick the shortest, whatever it lost. A
    summary record scored before similarities were stored counts as the least informative."""
    if task == "paraphrase":
        return pairs.score("rougeL")
    return np.nan_to_num(-informativeness(pairs.score("similarity"), pairs.score("compression")), nan=np.inf)


def _graph_keep(records: Sequence[dict], idx: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Of the rows idx, those the entailment graph keeps: the lowest-cost pair of each connected
    component of the (context, sentence) nodes."""
    node: dict[tuple[str, int], int] = {}
    a = np.empty(len(idx), dtype=np.int64)
    b = np.empty(len(idx), dtype=np.int64)
    for k, i in enumerate(idx):
        r = records[i]
        a[k] = node.setdefault((r["context_id"], r["src_sid"]), len(node))
        b[k] = node.setdefault((r["context_id"], r["tgt_sid"]), len(node))
    return dedup.component_representatives(a, b, cost[idx])
