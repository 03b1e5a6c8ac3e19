"""Next-token selection shared by every backend: banned tokens, no-repeat n-grams, temperature,
nucleus (top-p) sampling, one random stream per sequence.

Each sequence draws from its own generator seeded by (seed, sequence key), so a sequence's
tokens do not depend on which other sequences share its batch or on batch order: a shard can be
redone alone after a crash and comes out the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

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
        if not self.greedy and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.no_repeat_ngram_size < 0:
            raise ValueError(f"no_repeat_ngram_size must be >= 0, got {self.no_repeat_ngram_size}")


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


_NUCLEUS_HEAD = 64  # the first look of _nucleus: most rows' nucleus is in their top 64


def _nucleus(probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and probabilities of the smallest most-likely set with mass >= top_p, for one row.

    Looks at the top 64, then 1024, then all tokens: most rows never need the full sort.
    """
    vocab = probs.shape[0]
    for k in (_NUCLEUS_HEAD, 1024, vocab):
        k = min(k, vocab)
        top, ids = torch.topk(probs, k)
        cum = torch.cumsum(top, 0)
        if k == vocab or cum[-1] >= top_p:
            return _cut(ids, top, cum, top_p)
    raise AssertionError("unreachable")


def _cut(ids: torch.Tensor, top: torch.Tensor, cum: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The nucleus of one row from its sorted head (ids, probabilities, their running sum)."""
    keep = int(torch.searchsorted(cum, torch.tensor(top_p, dtype=cum.dtype)).item()) + 1
    keep = min(max(keep, 1), len(ids))
    return ids[:keep], top[:keep]


def select_next(logits: np.ndarray, states: list[SequenceState], cfg: SamplingConfig) -> np.ndarray:
    """Pick one next token per row of `logits` (float32 (B, V)) and append it to its state."""
    n = cfg.no_repeat_ngram_size
    constrained = any(st.constraint is not None for st in states)
    if cfg.greedy and not cfg.banned_ids and n == 0 and not constrained:  # nothing to mask: no copy
        out = np.argmax(logits, axis=1).astype(np.int64)
        for row, st in enumerate(states):
            _record(st, int(out[row]), n)
        return out
    x = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32)).clone()
    if cfg.banned_ids:
        x[:, list(cfg.banned_ids)] = float("-inf")
    if n > 0:
        for row, st in enumerate(states):
            toks = st.tokens()
            if n == 1:
                banned = set(toks)
            elif len(toks) >= n - 1:
                banned = st.seen.get(tuple(toks[len(toks) - n + 1 :]), set())
            else:
                banned = set()
            if banned:
                x[row, list(banned)] = float("-inf")
    if constrained:  # one mask for the batch: True where a constraint forbids the token
        forbidden = torch.zeros(x.shape, dtype=torch.bool)
        for row, st in enumerate(states):
            if st.constraint is not None:
                forbidden[row] = True
                forbidden[row, torch.from_numpy(st.constraint.allowed(st.constraint_state, len(st.generated)))] = False
        x.masked_fill_(forbidden, float("-inf"))
    out = np.empty(len(states), dtype=np.int64)
    if cfg.greedy:
        out[:] = torch.argmax(x, dim=1).numpy()
    else:
        probs = torch.softmax(x / cfg.temperature, dim=1)
        head = _NUCLEUS_HEAD if probs.shape[1] > _NUCLEUS_HEAD else None
        if head is not None:  # most rows' nucleus lies in their top 64: one topk for the batch
            top, top_ids = torch.topk(probs, head, dim=1)
            top_cum = torch.cumsum(top, 1)
        for row, st in enumerate(states):
            if head is not None and top_cum[row, -1] >= cfg.top_p:
                ids, p = _cut(top_ids[row], top[row], top_cum[row], cfg.top_p)
            else:
                ids, p = _nucleus(probs[row], cfg.top_p)
            cum = torch.cumsum(p, 0).numpy()
            u = st.rng.random() * float(cum[-1])
            out[row] = int(ids[min(int(np.searchsorted(cum, u, side="right")), len(cum) - 1)])
    for row, st in enumerate(states):
        _record(st, int(out[row]), n)
    return out


def newline_token_ids(tokenizer) -> tuple[int, ...]:
    """Every vocabulary token whose text contains a line break (the paper bans them)."""
    ids = list(range(len(tokenizer)))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False)
    return tuple(i for i, t in zip(ids, texts) if "\n" in t or "\r" in t)
