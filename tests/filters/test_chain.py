"""The chain's decisions on fixed, hand-scored pairs: each filter's reason, the order, the funnel."""
from __future__ import annotations

import numpy as np
import pytest

from impdist.filters import chain
from impdist.filters.chain import FilterConfig, decide


def rec(i, src, tgt, *, cid="c", s=0, t=None, **scores):
    base = {"compression": len(tgt) / len(src), "rougeL": 0.3, "bleu": 10.0, "numbers_ok": 1.0,
            "judge_fwd": 0.9, "judge_bwd": 0.9}
    base.update(scores)
    return {"id": f"{cid}:{s}-{t if t is not None else i + 1}", "src": src, "tgt": tgt, "context_id": cid,
            "src_sid": s, "tgt_sid": t if t is not None else i + 1, "scores": {k: v for k, v in base.items() if v is not None}}


SRC = "The council approved the new budget on Tuesday."


def test_each_threshold_filter_gives_its_reason_in_chain_order():
    records = [
        rec(0, SRC, "On Tuesday the council passed the new budget.", cid="a"),              # kept
        rec(1, SRC, "Budget.", cid="b"),                                                     # too short
        rec(2, SRC, "The council approved the new budget on Tuesday, officials said.", cid="c", rougeL=0.9),
        rec(3, SRC, "The council approved its budget on Tuesday, 5 days late.", cid="d", numbers_ok=0.0),
        rec(4, SRC, "Council members rejected a proposal for new parks.", cid="e", judge_bwd=0.2),
        rec(5, SRC, "The council backed the new budget this Tuesday.", cid="f", judge_fwd=None, judge_bwd=None),
    ]
    d = decide(records, FilterConfig(), 0.5)
    assert d.reasons == ["", chain.LENGTH_RATIO, chain.TOO_SIMILAR, chain.NUMBERS, chain.NOT_EQUIVALENT,
                         chain.UNJUDGED]
    assert d.funnel[0] == ("pairs", 6) and d.funnel[-1][1] == 1
    assert [step for step, _ in d.funnel[1:5]] == [chain.LENGTH_RATIO, chain.TOO_SIMILAR, chain.NUMBERS,
                                                   chain.UNJUDGED]
    assert d.kept.tolist() == [True, False, False, False, False, False]


def test_a_pair_failing_several_filters_carries_the_first():
    r = rec(0, SRC, "x", rougeL=0.99, numbers_ok=0.0, judge_fwd=0.0)
    assert decide([r], FilterConfig(), 0.5).reasons == [chain.LENGTH_RATIO]


def test_summary_needs_compression_and_only_forward_entailment():
    long = "The city council of Springfield approved the new budget for the coming year on Tuesday evening."
    short = "Springfield approved its budget."
    ok = rec(0, long, short, cid="a", judge_bwd=None, rougeL=0.4)
    weak = rec(0, long, short, cid="b", judge_fwd=0.1, judge_bwd=None, rougeL=0.4)
    too_long = rec(0, long, long[:-10] + " today.", cid="c", judge_bwd=None, rougeL=0.4)
    d = decide([ok, weak, too_long], FilterConfig(task="summary"), 0.5)
    assert d.reasons == ["", chain.NOT_EQUIVALENT, chain.COMPRESSION]


def test_exact_duplicates_across_groups_keep_the_first_and_paraphrase_is_symmetric():
    a = "The council approved the budget on Tuesday."
    b = "On Tuesday the council passed the budget."
    records = [rec(0, a, b, cid="x"), rec(0, b, a, cid="y"), rec(0, a.upper(), b, cid="z")]
    d = decide(records, FilterConfig(near_duplicate=None), 0.5)
    assert d.reasons == ["", chain.EXACT_DUPLICATE, chain.EXACT_DUPLICATE]
    d = decide(records[:2], FilterConfig(task="paraphrase", near_duplicate=None, semantic_duplicate=None), 0.5)
    assert d.reasons[1] == chain.EXACT_DUPLICATE


def test_entailment_graph_keeps_the_least_overlapping_pair_of_each_component():
    s = ["The council approved the budget on Tuesday.", "On Tuesday the council passed the budget.",
         "The budget was approved by the council on Tuesday.", "Tuesday saw the council approve its budget."]
    records = [rec(0, s[0], s[1], s=0, t=1, rougeL=0.5), rec(1, s[0], s[2], s=0, t=2, rougeL=0.2),
               rec(2, s[1], s[2], s=1, t=2, rougeL=0.4),
               rec(3, s[0], s[3], cid="other", s=0, t=3, rougeL=0.6)]
    d = decide(records, FilterConfig(near_duplicate=None), 0.5)
    assert d.reasons == [chain.GRAPH_DUPLICATE, "", chain.GRAPH_DUPLICATE, ""]
    d = decide(records, FilterConfig(near_duplicate=None, entailment_graph=False), 0.5)
    assert d.reasons == ["", "", "", ""]


def test_near_and_semantic_duplicates_across_groups():
    a = "the committee voted on the new city budget proposal during a long meeting on tuesday night"
    b = "a long tuesday night meeting saw the committee vote on the proposal for the new city budget"
    records = [rec(0, a, b, cid="g1"), rec(0, a + " again", b, cid="g2"),
               rec(0, "Rain is expected across the north tomorrow.", "Tomorrow the north should see rain.", cid="g3"),
               rec(0, "Heavy rain is forecast for the north tomorrow.", "The north should get heavy rain tomorrow.", cid="g4")]
    emb = np.eye(4, 8, dtype=np.float32)
    emb[3] = emb[2]  # g4 says what g3 says
    d = decide(records, FilterConfig(), 0.5, emb)
    assert d.reasons == ["", chain.NEAR_DUPLICATE, "", chain.SEMANTIC_DUPLICATE]
    d = decide(records, FilterConfig(near_duplicate=None, semantic_duplicate=None), 0.5, emb)
    assert d.reasons == ["", "", "", ""]


def test_rows_without_an_embedding_are_not_semantic_duplicates():
    records = [rec(0, SRC, "On Tuesday the council passed the new budget.", cid="a"),
               rec(0, "Rain is expected tomorrow.", "Tomorrow should bring rain.", cid="b")]
    emb = np.full((2, 4), np.nan, dtype=np.float32)
    emb[0] = [1, 0, 0, 0]
    assert decide(records, FilterConfig(), 0.5, emb).reasons == ["", ""]


def test_empty_input_and_bad_config():
    assert decide([], FilterConfig(), 0.5).reasons == []
    with pytest.raises(ValueError, match="min_len_ratio"):
        FilterConfig(min_len_ratio=2.0)
    with pytest.raises(ValueError, match="task"):
        FilterConfig(task="translate")
    with pytest.raises(ValueError, match="near_duplicate"):
        FilterConfig(near_duplicate=1.5)


def test_summary_graph_keeps_the_most_informative_summary_not_the_shortest():
    src = "The city council of Springfield approved the new budget for the coming year on Tuesday evening."
    tiny = "The council approved."
    good = "The council of Springfield approved the new budget."
    unscored = "Springfield approved the new budget for the coming year."
    records = [rec(0, src, tiny, judge_bwd=None, rougeL=0.2, similarity=0.5),
               rec(1, src, good, judge_bwd=None, rougeL=0.5, similarity=0.9),
               rec(2, src, unscored, judge_bwd=None, rougeL=0.5)]
    d = decide(records, FilterConfig(task="summary", near_duplicate=None), 0.5)
    assert d.reasons == [chain.GRAPH_DUPLICATE, "", chain.GRAPH_DUPLICATE]
    # Paraphrase keeps its rule: the least overlap.
    both_ways = [{**r, "scores": {**r["scores"], "judge_bwd": 0.9}} for r in records]
    assert decide(both_ways, FilterConfig(near_duplicate=None, min_len_ratio=0.1), 0.5).reasons[0] == ""
