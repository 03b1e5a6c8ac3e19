"""Next-token selection shared by every backend: banned tokens, no-repeat n-grams, temperature,
nucleus (top-p) sampling, one random stream per sequence.

Each sequence draws from its own generator seeded by (seed, sequence key), so a sequence's
tokens do not depend on which other sequences share its batch or on batch order: a shard can be
redone alone after a crash and comes out the same. numpy only (it ran on torch tensors until 0.2,
and picks the same tokens: tests/decoding/test_decode.py), so the ONNX path needs no torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from impdist.domains import NON_NEGATIVE_INT, POSITIVE, UNIT

if TYPE_CHECKING:
    from impdist.decoding.extractive import Extractive, State


@dataclass(frozen=True)
class SamplingConfig:
    """How to pick each next token; greedy=True takes the most likely allowed token."""

    temperature: float = 1.0
    top_p: float = 0.9
    no_repeat_ngram_size: int = 0
    banned_ids: tuple[int, ...] = ()
    greedy: bool = False

    def __post_init__(self) -> None:
        if not self.greedy:  # greedy decoding reads no temperature
            POSITIVE.check(self.temperature, "temperature")
        UNIT.check(self.top_p, "top_p")
        NON_NEGATIVE_INT.check(self.no_repeat_ngram_size, "no_repeat_ngram_size")


@dataclass
class SequenceState:
    """One sequence being decoded: its tokens so far and its random stream."""

    prompt: list[int]
    rng: np.random.Generator
    generated: list[int] = field(default_factory=list)
    # (n-1)-gram -> tokens that followed it, for no_repeat_ngram_size
    seen: dict[tuple[int, ...], set[int]] = field(default_factory=dict)
    # an optional restriction of the next tokens (extractive decoding) and where it stands
    constraint: Extractive | None = None
    constraint_state: State = frozenset()

    def tokens(self) -> list[int]:
        return self.prompt + self.generated


def new_state(prompt: list[int], seed: int, key: int, ngram: int,
              constraint: Extractive | None = None) -> SequenceState:
    """A sequence with its own random stream; `key` tells sequences of one run apart."""
    state = SequenceState(prompt=list(prompt), rng=np.random.Generator(np.random.Philox(key=[seed, key])),
                          constraint=constraint)
    if constraint is not None:
        state.constraint_state = constraint.initial()
    if ngram > 1:
        toks = state.prompt
        for i in range(len(toks) - ngram + 1):
            state.seen.setdefault(tuple(toks[i : i + ngram - 1]), set()).add(toks[i + ngram - 1])
    return state


def _record(state: SequenceState, token: int, ngram: int) -> None:
    state.generated.append(token)
    if state.constraint is not None:
        state.constraint_state = state.constraint.advance(state.constraint_state, token)
    if ngram > 1:
        toks = state.tokens()
        if len(toks) >= ngram:
            state.seen.setdefault(tuple(toks[-ngram:-1]), set()).add(token)


# The nucleus is looked for among each row's top 64 tokens, then its top 1024, then all of them:
# most rows' nucleus lies in their top 64, so most rows never need a sort of the whole vocabulary.
_NUCLEUS_STEPS = (64, 1024)


def _softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax of float32 (B, V) logits, in place (-inf entries get probability 0)."""
    x -= x.max(axis=1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=1, keepdims=True)
    return x


def _top(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and probabilities of each row's k most likely tokens, most likely first (ties: lower id
    first), so the order does not depend on the partition's internals."""
    ids = np.argpartition(-probs, k - 1, axis=1)[:, :k] if k < probs.shape[1] else \
        np.broadcast_to(np.arange(probs.shape[1]), probs.shape)
    top = np.take_along_axis(probs, ids, axis=1)
    order = np.lexsort((ids, -top), axis=1)
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(top, order, axis=1)


def nucleus(probs: np.ndarray, top_p: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per row of float32 (B, V) probabilities: the ids and probabilities of the smallest
    most-likely set whose mass reaches top_p (all tokens when rounding keeps it short of top_p)."""
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(probs)
    pending = np.arange(len(probs))
    vocab = probs.shape[1]
    for k in (*(k for k in _NUCLEUS_STEPS if k < vocab), vocab):
        ids, top = _top(probs[pending], k)
        cum = np.cumsum(top, axis=1)
        done = cum[:, -1] >= top_p if k < vocab else np.ones(len(pending), dtype=bool)
        for j in np.flatnonzero(done):
            keep = min(int(np.searchsorted(cum[j], np.float32(top_p))) + 1, k)
            out[pending[j]] = (ids[j, :keep], top[j, :keep])
        pending = pending[~done]
        if not len(pending):
            break
    return out  # type: ignore[return-value]


def _draw(ids: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> int:
    """One token of a nucleus, drawn from the sequence's own random stream."""
    cum = np.cumsum(p)
    u = rng.random() * float(cum[-1])
    return int(ids[min(int(np.searchsorted(cum, u, side="right")), len(cum) - 1)])


def select_next(logits: np.ndarray, states: list[SequenceState], cfg: SamplingConfig) -> np.ndarray:
    """Pick one next token per row of `logits` (float32 (B, V)) and append it to its state."""
    n = cfg.no_repeat_ngram_size
    if any(st.constraint is not None for st in states):
        out = _select_allowed(logits, states, cfg)
    elif cfg.greedy and not cfg.banned_ids and n == 0:  # nothing to mask: no copy
        out = np.argmax(logits, axis=1).astype(np.int64)
    else:
        x = np.array(logits, dtype=np.float32)  # a copy: the masks below write into it
        if cfg.banned_ids:
            x[:, list(cfg.banned_ids)] = -np.inf
        if n > 0:
            for row, st in enumerate(states):
                if banned := _repeats(st, n):
                    x[row, list(banned)] = -np.inf
        if cfg.greedy:
            out = np.argmax(x, axis=1).astype(np.int64)
        else:
            x /= np.float32(cfg.temperature)
            chosen = nucleus(_softmax(x), cfg.top_p)
            out = np.array([_draw(ids, p, st.rng) for (ids, p), st in zip(chosen, states)], dtype=np.int64)
    for row, st in enumerate(states):
        _record(st, int(out[row]), n)
    return out


def _repeats(state: SequenceState, n: int) -> set[int]:
    """The tokens that would repeat an n-gram of the sequence (no_repeat_ngram_size n)."""
    toks = state.tokens()
    if n == 1:
        return set(toks)
    if len(toks) >= n - 1:
        return state.seen.get(tuple(toks[len(toks) - n + 1 :]), set())
    return set()


def _select_allowed(logits: np.ndarray, states: list[SequenceState], cfg: SamplingConfig) -> np.ndarray:
    """select_next when a row has a constraint: each row's softmax and nucleus over its allowed
    tokens only (sorted ids, so ties fall as over the whole vocabulary; a row without a
    constraint allows every token). Masking the whole vocabulary instead was a fifth of
    extractive best-of-N decoding's time."""
    every = np.arange(logits.shape[1])
    allowed = [every if st.constraint is None else st.constraint.allowed(st.constraint_state, len(st.generated))
               for st in states]
    ids = np.zeros((len(states), max(len(a) for a in allowed)), dtype=np.int64)
    x = np.full(ids.shape, -np.inf, dtype=np.float32)  # padding: never picked
    banned = set(cfg.banned_ids)
    for row, (a, st) in enumerate(zip(allowed, states)):
        ids[row, : len(a)] = a
        x[row, : len(a)] = logits[row, a]
        if no := banned | (_repeats(st, cfg.no_repeat_ngram_size) if cfg.no_repeat_ngram_size else set()):
            x[row, : len(a)][np.isin(a, list(no))] = -np.inf
    if cfg.greedy:
        return ids[np.arange(len(ids)), np.argmax(x, axis=1)]
    x /= np.float32(cfg.temperature)
    chosen = nucleus(_softmax(x), cfg.top_p)
    return np.array([_draw(ids[row, k], p, st.rng) for row, ((k, p), st) in enumerate(zip(chosen, states))],
                    dtype=np.int64)


def newline_token_ids(tokenizer) -> tuple[int, ...]:
    """Every vocabulary token whose text contains a line break (the paper bans them)."""
    ids = list(range(len(tokenizer)))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False)
    return tuple(i for i, t in zip(ids, texts) if "\n" in t or "\r" in t)
