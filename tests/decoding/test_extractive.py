"""Extractive decoding: whatever the model's logits, every output is a deletion of its source."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impdist.decoding.decode import DecodeJob, decode_batches
from impdist.decoding.extractive import Extractive, source_units
from impdist.decoding.sampling import SamplingConfig
from tests.tiny_models import WORDS, tiny_llama_dir

EOS = 2


class RandomBackend:
    """Logits drawn afresh at every call: the constraint, not the model, must keep outputs valid."""

    name = "random"

    def __init__(self, vocab: int, seed: int) -> None:
        self.vocab, self.rng, self.rows = vocab, np.random.default_rng(seed), 0

    def _logits(self) -> np.ndarray:
        return (self.rng.normal(size=(self.rows, self.vocab)) * 4).astype(np.float32)

    def prefill(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.rows = len(input_ids)
        return self._logits()

    def step(self, next_ids: np.ndarray) -> np.ndarray:
        self.rows = len(next_ids)
        return self._logits()

    def select(self, rows: np.ndarray) -> None:
        self.rows = len(rows)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama_dir(tmp_path_factory.mktemp("tok")))


def is_deletion(output: str, source: str) -> bool:
    """Whether output's units (words, trailing punctuation) are a subsequence of source's."""
    it = iter(u for u, _ in source_units(source))
    return all(any(u == s for s in it) for u, _ in source_units(output))


def test_units_split_trailing_punctuation():
    assert source_units('He said "no," then left.') == (
        ("He", False), ("said", False), ('"no', False), (',"', True), ("then", False), ("left", False), (".", True))


sentences = st.lists(st.sampled_from(WORDS + ["2.5", "(the", "council)", "fell.", "said,", "U.S."]),
                     min_size=1, max_size=14).map(" ".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=sentences, seed=st.integers(0, 2**16), greedy=st.booleans())
def test_any_logits_give_deletions_of_the_source(tokenizer, source, seed, greedy):
    limit = Extractive.for_text(tokenizer, source, frozenset({EOS}))
    cfg = SamplingConfig(greedy=greedy, temperature=1.0, top_p=1.0)
    jobs = [DecodeJob((5, 6), key=k, constraint=limit) for k in range(4)]
    out = dict(decode_batches(RandomBackend(len(tokenizer), seed), jobs, cfg, seed=seed, max_new_tokens=200,
                              eos_ids=frozenset({EOS}), pad_id=0, batch_size=4))
    for ids in out.values():
        text = tokenizer.decode(ids)
        assert is_deletion(text.strip(), source), (text, source)
        assert len(ids) < 200  # every output ended on its own (EOS), never forced by the limit


def test_first_word_with_or_without_a_space(tokenizer):
    limit = Extractive.for_text(tokenizer, "the council voted", frozenset({EOS}))
    first = set(limit.allowed(limit.initial(), 0).tolist())
    for text in ("the", " the", " council", "council", " voted"):
        assert tokenizer(text, add_special_tokens=False)["input_ids"][0] in first
    assert EOS not in first  # an output holds at least one word


def test_a_started_word_must_be_finished(tokenizer):
    limit = Extractive.for_text(tokenizer, "announced flooding", frozenset({EOS}))
    ids = tokenizer(" announced", add_special_tokens=False)["input_ids"]
    assert len(ids) >= 2  # the tiny tokenizer (trained on fixed words) writes ' announced' in 6 pieces
    state = limit.advance(limit.initial(), ids[0])
    rest = " announced"[len(tokenizer.decode([ids[0]])):]
    allowed = limit.allowed(state, 1).tolist()
    assert ids[1] in allowed and EOS not in allowed
    assert all(rest.startswith(tokenizer.decode([i])) for i in allowed)


def test_ending_after_the_last_word_is_the_only_choice(tokenizer):
    limit = Extractive.for_text(tokenizer, "rain", frozenset({EOS}))
    state = limit.initial()
    for tok in tokenizer(" rain", add_special_tokens=False)["input_ids"]:
        state = limit.advance(state, tok)
    assert limit.allowed(state, 1).tolist() == [EOS]
    assert limit.advance(state, EOS) == frozenset()
