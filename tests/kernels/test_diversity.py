"""self-BLEU against fast-bleu; distinct-n and n-gram Jaccard against plain-Python definitions."""
from __future__ import annotations

import numpy as np
import pytest
from fast_bleu import BLEU, SelfBLEU
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from tests.conftest import record
from tests.kernels.strategies import any_text, pairs, sentence

corpora = st.lists(st.one_of(sentence, sentence, any_text), min_size=2, max_size=25)
# fast-bleu passes tokens to C++ as C strings, so it cuts them at a NUL byte; we do not.
nul_free_corpora = corpora.map(lambda ss: [s.replace("\x00", "") for s in ss])


def _weights(max_n):
    return {max_n: tuple(1.0 / max_n for _ in range(max_n))}


def ref_leave_one_out(sents, max_n, indices=None):
    """fast-bleu's BLEU of each sentence against all the others, one reference set at a time.

    fast-bleu's SelfBLEU gives the same numbers but reads one reference length past the end of
    an array (self_bleu.cpp passes number_of_refs with an array of number_of_refs - 1), so its
    result can change from run to run; its BLEU class has no such read.
    """
    toks = [s.split() for s in sents]
    out = []
    for i in range(len(sents)) if indices is None else indices:
        others = toks[:i] + toks[i + 1 :]
        out.append(BLEU(others, _weights(max_n)).get_score([toks[i]])[max_n][0])
    return np.array(out)


def ref_self_bleu(sents, max_n):
    """SelfBLEU for large corpora; entries it may have got wrong are recomputed exactly."""
    fast = np.array(SelfBLEU([s.split() for s in sents], _weights(max_n)).get_score()[max_n])
    ours = kernels.self_bleu(sents, max_n=max_n)
    differ = np.flatnonzero(np.abs(fast - ours) > 1e-9)
    if len(differ):
        fast[differ] = ref_leave_one_out(sents, max_n, differ)
    return fast


def ngrams(tokens, n):
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def ref_distinct(sents, n):
    grams = [g for s in sents for g in ngrams(s.split(), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def ref_jaccard(a, b, n):
    sa, sb = set(ngrams(a.split(), n)), set(ngrams(b.split(), n))
    union = sa | sb
    return len(sa & sb) / len(union) if union else 0.0


@given(nul_free_corpora, st.integers(2, 4))
def test_self_bleu_matches_fast_bleu(sents, max_n):
    ours = kernels.self_bleu(sents, max_n=max_n)
    np.testing.assert_allclose(ours, ref_self_bleu(sents, max_n), rtol=0, atol=1e-9)
    record("self_bleu", len(sents))


def test_self_bleu_on_mrpc(mrpc):
    sents = [r["src"] for r in mrpc] + [r["refs"][0] for r in mrpc]
    np.testing.assert_allclose(kernels.self_bleu(sents), ref_self_bleu(sents, 4), rtol=0, atol=1e-9)
    record("self_bleu:mrpc", len(sents))


def test_self_bleu_duplicates_and_ties():
    # Identical sentences see each other; top-two counts must handle ties.
    sents = ["a a b", "a a b", "a b", "b b b b", "", "c"]
    np.testing.assert_allclose(kernels.self_bleu(sents, max_n=2), ref_leave_one_out(sents, 2), atol=1e-9)


def test_self_bleu_needs_two_sentences():
    with pytest.raises(ValueError, match="at least 2"):
        kernels.self_bleu(["only one"])


@given(corpora, st.integers(1, 5))
def test_distinct_n_matches_definition(sents, n):
    assert kernels.distinct_n(sents, n) == pytest.approx(ref_distinct(sents, n), abs=1e-12)
    record("distinct_n", len(sents))


@given(pairs, st.integers(1, 4))
def test_ngram_jaccard_matches_definition(batch, n):
    a, b = map(list, zip(*batch))
    expected = [ref_jaccard(x, y, n) for x, y in zip(a, b)]
    np.testing.assert_allclose(kernels.ngram_jaccard(a, b, n), expected, rtol=0, atol=1e-12)
    record("ngram_jaccard", len(a))


def test_distinct_and_jaccard_on_mrpc(mrpc):
    a = [r["src"] for r in mrpc]
    b = [r["refs"][0] for r in mrpc]
    for n in (1, 2, 3):
        assert kernels.distinct_n(a + b, n) == pytest.approx(ref_distinct(a + b, n), abs=1e-12)
        np.testing.assert_allclose(kernels.ngram_jaccard(a, b, n), [ref_jaccard(x, y, n) for x, y in zip(a, b)],
                                   atol=1e-12)
    record("ngram_jaccard:mrpc", 3 * len(a))
