"""pair_scores against rouge-score, sacrebleu and plain Python; dataset_diversity against its parts."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sacrebleu
from hypothesis import given
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from impdist import kernels
from impdist.filters.lexical import SCORES, dataset_diversity, pair_scores
from impdist.filters.numbers import numbers_agree
from tests.conftest import record
from tests.kernels.strategies import pairs

SCORER = rouge_scorer.RougeScorer(["rougeL"])
TASKS = st.sampled_from(["paraphrase", "summary"])


def assert_matches_references(srcs, tgts, task, label):
    scores = pair_scores(srcs, tgts, task)
    assert list(scores) == list(SCORES)
    assert all(v.dtype == np.float64 and v.shape == (len(srcs),) for v in scores.values())
    compression = [len(t) / len(s) if s else math.inf for s, t in zip(srcs, tgts)]
    assert scores["compression"].tolist() == compression
    rouge = [SCORER.score(s, t)["rougeL"].fmeasure for s, t in zip(srcs, tgts)]
    np.testing.assert_allclose(scores["rougeL"], rouge, rtol=0, atol=1e-12)
    bleu = [sacrebleu.sentence_bleu(t, [s]).score for s, t in zip(srcs, tgts)]
    np.testing.assert_allclose(scores["bleu"], bleu, rtol=0, atol=1e-9)
    assert scores["numbers_ok"].tolist() == numbers_agree(srcs, tgts, task).astype(float).tolist()
    record(label, len(srcs))


@pytest.mark.filterwarnings("ignore::impdist.ImpdistWarning")
@given(pairs, TASKS)
def test_pair_scores_match_references_on_random_text(batch, task):
    srcs, tgts = map(list, zip(*batch))
    # Both orientations and repeats: pair_scores scores each distinct (unordered) pair once.
    srcs, tgts = srcs + tgts + srcs[:3], tgts + srcs + tgts[:3]
    assert_matches_references(srcs, tgts, task, "pair_scores")


@pytest.mark.filterwarnings("ignore::impdist.ImpdistWarning")
def test_pair_scores_match_references_on_mrpc(mrpc):
    srcs = [r["src"] for r in mrpc]
    tgts = [r["refs"][0] for r in mrpc]
    assert_matches_references(srcs + tgts, tgts + srcs, "paraphrase", "pair_scores:mrpc")


def test_keys_pick_a_subset():
    scores = pair_scores(["a b 1"], ["a b 2"], "paraphrase", keys=("numbers_ok", "compression"))
    assert list(scores) == ["compression", "numbers_ok"]
    assert scores["numbers_ok"].tolist() == [0.0]
    with pytest.raises(ValueError, match="unknown score"):
        pair_scores(["a"], ["b"], "paraphrase", keys=("rouge2",))


def test_pair_scores_edges():
    empty = pair_scores([], [], "summary")
    assert all(v.shape == (0,) for v in empty.values())
    scores = pair_scores(["", "abcd"], ["x", ""], "paraphrase")
    assert scores["compression"].tolist() == [math.inf, 0.0]
    with pytest.raises(ValueError, match="differ in length"):
        pair_scores(["a"], [], "paraphrase")
    with pytest.raises(ValueError, match="task"):
        pair_scores(["a"], ["b"], "para")


def reference_diversity(srcs, tgts):
    def distinct(k):
        grams = [tuple(w[i : i + k]) for t in tgts for w in [t.split()] for i in range(len(w) - k + 1)]
        return len(set(grams)) / len(grams) if grams else 0.0

    ratios = [len(t) / len(s) for s, t in zip(srcs, tgts) if s]
    return {
        "distinct_1": distinct(1),
        "distinct_2": distinct(2),
        "self_bleu": float(np.mean(kernels.self_bleu(tgts))) if len(tgts) > 1 else math.nan,
        "rougeL_mean": float(np.mean([SCORER.score(s, t)["rougeL"].fmeasure for s, t in zip(srcs, tgts)])),
        "compression_mean": float(np.mean(ratios)) if ratios else math.nan,
    }


@pytest.mark.filterwarnings("ignore::impdist.ImpdistWarning")
@given(pairs)
def test_diversity_matches_reference(batch):
    srcs, tgts = map(list, zip(*batch))
    ours, ref = dataset_diversity(srcs, tgts), reference_diversity(srcs, tgts)
    assert ours.keys() == ref.keys()
    for key in ours:
        assert ours[key] == pytest.approx(ref[key], abs=1e-9, nan_ok=True), key


def test_diversity_of_tiny_datasets():
    assert all(math.isnan(v) for v in dataset_diversity([], []).values())
    one = dataset_diversity(["the cat"], ["a dog"])
    assert math.isnan(one["self_bleu"]) and one["distinct_1"] == 1.0 and one["compression_mean"] == 5 / 7
    with pytest.raises(ValueError, match="differ in length"):
        dataset_diversity(["a"], [])
