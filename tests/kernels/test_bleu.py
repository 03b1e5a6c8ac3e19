"""Sentence and corpus BLEU against sacrebleu (13a tokenizer, 'exp' smoothing), on every path."""
from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from tests.kernels.harness import CORPUS_BLEU, SENTENCE_BLEU, check
from tests.kernels.strategies import any_text, multi_ref_items, pairs


@given(pairs)
def test_sentence_bleu_matches_sacrebleu_single_reference(batch):
    hyps, refs = map(list, zip(*batch))
    check(SENTENCE_BLEU, hyps, refs)


@given(st.lists(multi_ref_items(), min_size=1, max_size=15))
def test_sentence_bleu_matches_sacrebleu_several_references(batch):
    check(SENTENCE_BLEU, [h for h, _ in batch], [r for _, r in batch])


@given(st.integers(1, 3).flatmap(lambda k: st.lists(
    st.tuples(any_text, st.lists(any_text, min_size=k, max_size=k)), min_size=1, max_size=15)))
def test_corpus_bleu_matches_sacrebleu(batch):
    check(CORPUS_BLEU, [h for h, _ in batch], [r for _, r in batch])


def test_sentence_and_corpus_bleu_on_mrpc(mrpc):
    hyps = [r["src"] for r in mrpc]
    check(SENTENCE_BLEU, hyps, [r["refs"] for r in mrpc], tag="mrpc")
    check(CORPUS_BLEU, hyps, [r["refs"][0] for r in mrpc], tag="mrpc")


def test_tokenizer_corner_cases():
    cases = [
        ("", "a"), ("a", ""), ("", ""), ("  ", "x"), ("a.. b", "a . . b"), ("5..5", "5 . . 5"),
        ("1.5,3-4", "1.5 , 3 - 4"), ("&amp;lt; &quot;", '< "'), ("<skip<skipped>ped> x", "x"),
        ("line-\nbreak", "linebreak"), ("x\u3000y\xa0z", "x y z"), ("end.\x85", "end ."),
        ("İstanbul \u212aelvin", "istanbul kelvin"), ("a" * 5000, "a" * 5000),
        (" ".join(["w"] * 10_000), " ".join(["w"] * 9_999)),
    ]
    hyps, refs = map(list, zip(*cases))
    check(SENTENCE_BLEU, hyps, refs)


def test_stats_layout_is_sacrebleus():
    stats = kernels.bleu_stats(["the cat sat on the mat"], [["the cat is on the mat", "a cat"]])
    metric = sacrebleu.BLEU()
    expected = metric._extract_corpus_statistics(["the cat sat on the mat"], [["the cat is on the mat"], ["a cat"]])
    assert stats.tolist() == expected


def test_corpus_bleu_needs_a_hypothesis():
    with pytest.raises(ValueError, match="at least one"):
        check(CORPUS_BLEU, [], [])


def test_sentence_bleu_is_the_score_of_its_stats():
    hyps, refs = ["the cat sat on the mat", "a b c"], [["the cat is on the mat", "a cat"], "a b d"]
    assert np.array_equal(kernels.sentence_bleu(hyps, refs),
                          kernels.bleu_from_stats(kernels.bleu_stats(hyps, refs), effective_order=True))
