"""ROUGE-L/1/2 (and stemmed) against rouge-score, operation for operation."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from impdist import kernels
from tests.conftest import record
from tests.kernels.strategies import pairs

KINDS = ["rougeL", "rouge1", "rouge2", "rouge3"]
_SCORERS: dict = {}


def reference(cands, refs, kind, stem):
    key = (kind, stem)
    if key not in _SCORERS:
        _SCORERS[key] = rouge_scorer.RougeScorer([kind], use_stemmer=stem)
    scorer = _SCORERS[key]
    return np.array([tuple(scorer.score(r, c)[kind]) for c, r in zip(cands, refs)], dtype=float).reshape(-1, 3)


def assert_parity(cands, refs, kind, stem, label=None):
    ours = kernels.rouge(cands, refs, kind=kind, stem=stem)
    ref = reference(cands, refs, kind, stem)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
    record(label or f"rouge:{kind}{':stem' if stem else ''}", len(cands))


@pytest.mark.filterwarnings("ignore::impdist.ImpdistWarning")
@given(pairs, st.sampled_from(KINDS), st.booleans())
def test_matches_rouge_score_on_random_text(batch, kind, stem):
    cands, refs = zip(*batch)
    assert_parity(list(cands), list(refs), kind, stem)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stem", [False, True])
def test_matches_rouge_score_on_mrpc(mrpc, kind, stem):
    cands = [r["src"] for r in mrpc]
    refs = [r["refs"][0] for r in mrpc]
    assert_parity(cands, refs, kind, stem, label=f"rouge:{kind}{':stem' if stem else ''}:mrpc")


def test_long_texts_need_several_words_of_bit_vector():
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(300)]
    long_a = " ".join(rng.choice(vocab) for _ in range(10_000))
    short = " ".join(rng.choice(vocab) for _ in range(60))
    mid_a = " ".join(rng.choice(vocab) for _ in range(700))
    mid_b = " ".join(rng.choice(vocab) for _ in range(900))
    for kind in ("rougeL", "rouge2"):
        assert_parity([long_a, short, mid_a], [short, long_a, mid_b], kind, False)


def test_empty_and_tokenless_inputs_score_zero():
    out = kernels.rouge(["", "...", "a b", ""], ["a b", "a b", "", ""])
    assert out.shape == (4, 3)
    assert not out.any()


def test_non_ascii_letters_are_dropped_like_rouge_score_and_we_say_so():
    with pytest.warns(kernels.lexical.ImpdistWarning, match="non-ASCII"):
        out = kernels.rouge(["Zürich café"], ["Zurich cafe"])
    np.testing.assert_allclose(out, reference(["Zürich café"], ["Zurich cafe"], "rougeL", False), atol=1e-9)


def test_threads_do_not_change_the_result(mrpc):
    cands = [r["src"] for r in mrpc] * 3
    refs = [r["refs"][0] for r in mrpc] * 3
    one = kernels.rouge(cands, refs, threads=1)
    two = kernels.rouge(cands, refs, threads=2)
    assert np.array_equal(one, two)


def test_stats_sum_to_corpus_counts(mrpc):
    cands = [r["src"] for r in mrpc[:100]]
    refs = [r["refs"][0] for r in mrpc[:100]]
    stats = kernels.rouge_stats(cands, refs, kind="rouge1")
    scores = kernels.rouge_from_stats(stats, kind="rouge1")
    assert stats.dtype == np.int64 and stats.shape == (100, 3)
    np.testing.assert_allclose(scores, kernels.rouge(cands, refs, kind="rouge1"))
