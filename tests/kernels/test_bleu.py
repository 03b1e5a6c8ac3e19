"""Sentence and corpus BLEU against sacrebleu (13a tokenizer, 'exp' smoothing)."""
from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from tests.conftest import record
from tests.kernels.strategies import any_text, pairs, related


def ref_sentence(hyps, refs):
    out = []
    for h, r in zip(hyps, refs):
        out.append(sacrebleu.sentence_bleu(h, [r] if isinstance(r, str) else list(r)).score)
    return np.array(out, dtype=float)


@given(pairs)
def test_sentence_bleu_matches_sacrebleu_single_reference(batch):
    hyps, refs = map(list, zip(*batch))
    np.testing.assert_allclose(kernels.sentence_bleu(hyps, refs), ref_sentence(hyps, refs), rtol=0, atol=1e-9)
    record("sentence_bleu", len(hyps))


@st.composite
def multi_ref_items(draw):
    hyp, first = draw(related())
    others = draw(st.lists(any_text, max_size=3))
    return hyp, [first, *others]


@given(st.lists(multi_ref_items(), min_size=1, max_size=15))
def test_sentence_bleu_matches_sacrebleu_several_references(batch):
    hyps = [h for h, _ in batch]
    refs = [r for _, r in batch]
    np.testing.assert_allclose(kernels.sentence_bleu(hyps, refs), ref_sentence(hyps, refs), rtol=0, atol=1e-9)
    record("sentence_bleu", len(hyps))


@given(st.integers(1, 3).flatmap(lambda k: st.lists(
    st.tuples(any_text, st.lists(any_text, min_size=k, max_size=k)), min_size=1, max_size=15)))
def test_corpus_bleu_matches_sacrebleu(batch):
    hyps = [h for h, _ in batch]
    refs = [r for _, r in batch]
    streams = [list(s) for s in zip(*refs)]
    expected = sacrebleu.corpus_bleu(hyps, streams).score
    assert abs(kernels.corpus_bleu(hyps, refs) - expected) <= 1e-9
    record("corpus_bleu", len(hyps))


def test_sentence_and_corpus_bleu_on_mrpc(mrpc):
    hyps = [r["src"] for r in mrpc]
    refs = [r["refs"] for r in mrpc]
    np.testing.assert_allclose(kernels.sentence_bleu(hyps, refs), ref_sentence(hyps, refs), rtol=0, atol=1e-9)
    expected = sacrebleu.corpus_bleu(hyps, [[r[0] for r in refs]]).score
    assert abs(kernels.corpus_bleu(hyps, [r[0] for r in refs]) - expected) <= 1e-9
    record("sentence_bleu:mrpc", len(hyps))
    record("corpus_bleu:mrpc", len(hyps))


def test_tokenizer_corner_cases():
    cases = [
        ("", "a"), ("a", ""), ("", ""), ("  ", "x"), ("a.. b", "a . . b"), ("5..5", "5 . . 5"),
        ("1.5,3-4", "1.5 , 3 - 4"), ("&amp;lt; &quot;", '< "'), ("<skip<skipped>ped> x", "x"),
        ("line-\nbreak", "linebreak"), ("x\u3000y\xa0z", "x y z"), ("end.\x85", "end ."),
        ("İstanbul \u212aelvin", "istanbul kelvin"), ("a" * 5000, "a" * 5000),
        (" ".join(["w"] * 10_000), " ".join(["w"] * 9_999)),
    ]
    hyps, refs = map(list, zip(*cases))
    np.testing.assert_allclose(kernels.sentence_bleu(hyps, refs), ref_sentence(hyps, refs), rtol=0, atol=1e-9)


def test_stats_layout_is_sacrebleus():
    stats = kernels.bleu_stats(["the cat sat on the mat"], [["the cat is on the mat", "a cat"]])
    metric = sacrebleu.BLEU()
    expected = metric._extract_corpus_statistics(["the cat sat on the mat"], [["the cat is on the mat"], ["a cat"]])
    assert stats.tolist() == expected


def test_threads_do_not_change_the_result(mrpc):
    hyps = [r["src"] for r in mrpc] * 2
    refs = [r["refs"] for r in mrpc] * 2
    assert np.array_equal(kernels.sentence_bleu(hyps, refs, threads=1), kernels.sentence_bleu(hyps, refs, threads=2))


def test_corpus_bleu_needs_a_hypothesis():
    with pytest.raises(ValueError, match="at least one"):
        kernels.corpus_bleu([], [])
