"""The chain's steps as objects: their order, which settings turn them on, the lexical gate, and
that a new filter is one class plus one entry in STEPS (decide() is not edited)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impdist.filters import chain
from impdist.filters.chain import FilterConfig, FilterStep, ScoredPairs, decide
from tests.filters.test_chain import SRC, rec


def test_steps_run_in_the_order_of_the_readme_table():
    assert chain.REASONS == (chain.LENGTH_RATIO, chain.COMPRESSION, chain.TOO_SIMILAR, chain.NUMBERS, chain.UNJUDGED,
                             chain.NOT_EQUIVALENT, chain.EXACT_DUPLICATE, chain.GRAPH_DUPLICATE, chain.NEAR_DUPLICATE,
                             chain.SEMANTIC_DUPLICATE)
    assert len(set(chain.REASONS)) == len(chain.REASONS)


def test_settings_turn_steps_on_and_off_by_name():
    on = [type(s).__name__ for s in chain.chain_steps(FilterConfig(judge_threshold=0.5))]
    assert on == ["LengthRatio", "TooSimilar", "Numbers", "Unjudged", "NotEquivalent", "ExactDuplicate",
                  "EntailmentGraph", "NearDuplicate", "SemanticDuplicate"]
    off = FilterConfig(task="summary", numbers=False, entailment_graph=False, near_duplicate=None,
                       semantic_duplicate=None, judge_threshold=0.5)
    assert [type(s).__name__ for s in chain.chain_steps(off)] == ["Compression", "TooSimilar", "Unjudged",
                                                                 "NotEquivalent", "ExactDuplicate"]
    assert chain.LengthRatio.from_config(FilterConfig(min_len_ratio=0.5)) == chain.LengthRatio(0.5, 1.5)


def test_the_lexical_gate_is_what_the_scored_stage_always_recorded():
    assert chain.lexical_settings() == ("max_compression", "max_len_ratio", "max_rouge_l", "min_len_ratio",
                                        "numbers", "task")
    assert [s.reason for s in chain.lexical_filters(FilterConfig())] == [chain.LENGTH_RATIO, chain.TOO_SIMILAR,
                                                                         chain.NUMBERS]


@dataclass(frozen=True)
class NoQuestions(FilterStep):
    """A filter a user adds: targets that ask a question are dropped (no setting: always on)."""

    reason = "question"

    def rejects(self, pairs: ScoredPairs, idx: np.ndarray) -> np.ndarray:
        return np.array([pairs.records[i]["tgt"].endswith("?") for i in idx], dtype=bool)


def test_a_new_filter_is_one_class_and_one_list_entry(monkeypatch):
    records = [rec(0, SRC, "On Tuesday the council passed the new budget.", cid="a"),
               rec(0, SRC, "Did the council pass the new budget on Tuesday?", cid="b"),
               rec(0, SRC, "Budget?", cid="c")]
    monkeypatch.setattr(chain, "STEPS", chain.STEPS[:4] + (NoQuestions,) + chain.STEPS[4:])
    d = decide(records, FilterConfig(), 0.5)
    assert d.reasons == ["", "question", chain.LENGTH_RATIO]  # the first failing step wins
    assert [step for step, _ in d.funnel[:6]] == ["pairs", chain.LENGTH_RATIO, chain.TOO_SIMILAR, chain.NUMBERS,
                                                  "question", chain.UNJUDGED]
