"""self-BLEU against fast-bleu; distinct-n and n-gram Jaccard against their textbook definitions."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.kernels.harness import DISTINCT_N, NGRAM_JACCARD, SELF_BLEU, check, ref_leave_one_out
from tests.kernels.strategies import any_text, pairs, sentence

corpora = st.lists(st.one_of(sentence, sentence, any_text), min_size=2, max_size=25)
# fast-bleu passes tokens to C++ as C strings, so it cuts them at a NUL byte; we do not.
nul_free_corpora = corpora.map(lambda ss: [s.replace("\x00", "") for s in ss])


@given(nul_free_corpora, st.integers(2, 4))
def test_self_bleu_matches_fast_bleu(sents, max_n):
    check(SELF_BLEU, sents, max_n=max_n)


def test_self_bleu_on_mrpc(mrpc):
    check(SELF_BLEU, [r["src"] for r in mrpc] + [r["refs"][0] for r in mrpc], tag="mrpc")


def test_self_bleu_duplicates_and_ties():
    # Identical sentences see each other; top-two counts must handle ties.
    sents = ["a a b", "a a b", "a b", "b b b b", "", "c"]
    ours = check(SELF_BLEU, sents, max_n=2)
    assert ours == pytest.approx(ref_leave_one_out(sents, 2), abs=1e-9)


def test_self_bleu_needs_two_sentences():
    with pytest.raises(ValueError, match="at least 2"):
        check(SELF_BLEU, ["only one"])


@given(corpora, st.integers(1, 5))
def test_distinct_n_matches_definition(sents, n):
    check(DISTINCT_N, sents, n=n)


@given(pairs, st.integers(1, 4))
def test_ngram_jaccard_matches_definition(batch, n):
    a, b = map(list, zip(*batch))
    check(NGRAM_JACCARD, a, b, n=n)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_distinct_and_jaccard_on_mrpc(mrpc, n):
    a = [r["src"] for r in mrpc]
    b = [r["refs"][0] for r in mrpc]
    check(DISTINCT_N, a + b, n=n, tag="mrpc")
    check(NGRAM_JACCARD, a, b, n=n, tag="mrpc")
