"""ROUGE-L/1/2/n (and stemmed) against rouge-score, on every path (tests/kernels/harness.py)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from impdist.errors import ImpdistWarning, KernelArgumentError
from tests.kernels.harness import ROUGE, ROUGE_MULTI, check
from tests.kernels.strategies import pairs

KINDS = ["rougeL", "rouge1", "rouge2", "rouge3"]


@pytest.mark.filterwarnings("ignore::impdist.ImpdistWarning")
@given(pairs, st.sampled_from(KINDS + ["rouge4"]), st.booleans())
def test_matches_rouge_score_on_random_text(batch, kind, stem):
    cands, refs = map(list, zip(*batch))
    check(ROUGE, cands, refs, kind=kind, stem=stem)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stem", [False, True])
def test_matches_rouge_score_on_mrpc(mrpc, kind, stem):
    check(ROUGE, [r["src"] for r in mrpc], [r["refs"][0] for r in mrpc], kind=kind, stem=stem, tag="mrpc")


def test_long_texts_need_several_words_of_bit_vector():
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(300)]
    long_a = " ".join(rng.choice(vocab) for _ in range(10_000))
    short = " ".join(rng.choice(vocab) for _ in range(60))
    mid_a = " ".join(rng.choice(vocab) for _ in range(700))
    mid_b = " ".join(rng.choice(vocab) for _ in range(900))
    for kind in ("rougeL", "rouge2"):
        check(ROUGE, [long_a, short, mid_a], [short, long_a, mid_b], kind=kind)


def test_empty_and_tokenless_inputs_score_zero():
    out = check(ROUGE, ["", "...", "a b", ""], ["a b", "a b", "", ""])
    assert out.shape == (4, 3) and not out.any()


def test_non_ascii_letters_are_dropped_like_rouge_score_and_we_say_so():
    with pytest.warns(ImpdistWarning, match="non-ASCII"):
        check(ROUGE, ["Zürich café"], ["Zurich cafe"])


def test_stats_sum_to_corpus_counts(mrpc):
    cands = [r["src"] for r in mrpc[:100]]
    refs = [r["refs"][0] for r in mrpc[:100]]
    stats = kernels.rouge_stats(cands, refs, kind="rouge1")
    scores = kernels.rouge_from_stats(stats, kind="rouge1")
    assert stats.dtype == np.int64 and stats.shape == (100, 3)
    np.testing.assert_allclose(scores, kernels.rouge(cands, refs, kind="rouge1"))


@pytest.mark.filterwarnings("ignore::impdist.ImpdistWarning")
@given(pairs, st.lists(st.sampled_from(KINDS + ["rouge4", "rouge9"]), min_size=1, max_size=5), st.booleans())
def test_several_types_in_one_pass_match_rouge_score(batch, kinds, stem):
    cands, refs = map(list, zip(*batch))
    out = check(ROUGE_MULTI, cands, refs, kinds=kinds, stem=stem)
    for kind in kinds:  # the fused pass gives each type's numbers bit for bit
        assert np.array_equal(out[kind], kernels.rouge(cands, refs, kind=kind, stem=stem))


@pytest.mark.parametrize("stem", [False, True])
def test_rouge_1_2_l_together_on_mrpc(mrpc, stem):
    cands, refs = [r["src"] for r in mrpc], [r["refs"][0] for r in mrpc]
    out = check(ROUGE_MULTI, cands, refs, stem=stem, tag="mrpc")
    assert list(out) == ["rouge1", "rouge2", "rougeL"]
    assert all(out[k].shape == (len(mrpc), 3) for k in out)


def test_several_types_on_long_texts_and_duplicate_kinds():
    rng = random.Random(11)
    vocab = [f"w{i}" for i in range(50)]
    a = " ".join(rng.choice(vocab) for _ in range(3000))
    b = " ".join(rng.choice(vocab) for _ in range(200))
    out = check(ROUGE_MULTI, [a, b, ""], [b, a, "w1"], kinds=["rougeL", "rouge3", "rougeL", "rouge1"])
    assert list(out) == ["rougeL", "rouge3", "rouge1"]


@pytest.mark.parametrize("kinds, words", [([], "at least one"), ("rougeL", "sequence"), (["rougeX"], "kind must be")])
def test_several_types_bad_kinds(kinds, words):
    with pytest.raises(KernelArgumentError, match=words):
        kernels.rouge_multi(["a"], ["a"], kinds)
