"""The decode loop: batches of prompts through a DecoderBackend, sampling with sampling.py,
stopping each sequence on its own criterion and dropping finished rows from the batch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from impdist.decoding.backend import DecoderBackend
from impdist.decoding.sampling import SamplingConfig, SequenceState, new_state, select_next

if TYPE_CHECKING:
    from impdist.decoding.extractive import Extractive


@dataclass(frozen=True)
class DecodeJob:
    """One sequence to generate: prompt token ids, the key of its random stream, and an optional
    constraint on its tokens."""

    prompt: tuple[int, ...]
    key: int
    constraint: Extractive | None = None


# A stop criterion sees the sequence after each new token; True ends it there.
# Finished rows stay in the batch (decoding padding) until they are this share of it: a cache
# gather per finished row cost more than the rows' wasted compute (SmolLM2 int8, batch 32).
_COMPACT = 0.75
# A prefix shared by a batch's prompts is prefilled once when it is at least this long.
_MIN_SHARED = 4
StopFn = Callable[[SequenceState], bool]


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 (B, T) ids and attention mask, padded on the left."""
    width = max(len(p) for p in prompts)
    ids = np.full((len(prompts), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(prompts), width), dtype=np.int64)
    for row, p in enumerate(prompts):
        if p:
            ids[row, width - len(p) :] = p
            mask[row, width - len(p) :] = 1
    return ids, mask


def decode_batches(
    backend: DecoderBackend,
    jobs: Sequence[DecodeJob],
    cfg: SamplingConfig,
    *,
    seed: int,
    max_new_tokens: int,
    eos_ids: frozenset[int],
    pad_id: int,
    batch_size: int,
    stop: StopFn | None = None,
) -> Iterator[tuple[int, list[int]]]:
    """Yields (job index, generated token ids) as batches finish, in job order within a batch.

    The EOS token ends a sequence and is not included; `stop` may end it earlier (its last
    token included). Every prompt must be non-empty.
    """
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start : start + batch_size]
        states = [new_state(list(j.prompt), seed, j.key, cfg.no_repeat_ngram_size, j.constraint) for j in batch]
        results: dict[int, list[int]] = {}
        # Samples of one context share a prompt: prefill each distinct prompt once, then copy rows.
        unique: dict[tuple[int, ...], int] = {}
        expand = np.array([unique.setdefault(j.prompt, len(unique)) for j in batch], dtype=np.int64)
        logits = _prefill(backend, list(unique), pad_id)
        if len(unique) < len(batch):
            backend.select(expand)
            logits = logits[expand]
        cache = list(range(len(batch)))  # the batch row held at each position of the backend's cache
        live = np.ones(len(batch), dtype=bool)  # per cache position: still decoding
        for _ in range(max_new_tokens):
            where = np.flatnonzero(live)
            chosen = select_next(logits if len(where) == len(cache) else logits[where],
                                 [states[cache[p]] for p in where], cfg)
            for k, p in enumerate(where):
                st = states[cache[p]]
                if int(chosen[k]) in eos_ids:
                    st.generated.pop()
                elif not ((stop is not None and stop(st)) or len(st.generated) >= max_new_tokens):
                    continue
                results[cache[p]] = st.generated
                live[p] = False
            if not live.any():
                break
            feed = np.full(len(cache), pad_id, dtype=np.int64)  # finished rows decode padding, unread
            feed[where] = chosen
            if live.sum() <= _COMPACT * len(cache):  # drop finished rows once they are a quarter
                keep = np.flatnonzero(live)
                backend.select(keep)
                cache, live, feed = [cache[p] for p in keep], live[keep], feed[keep]
            logits = backend.step(feed)
        for p in np.flatnonzero(live):
            results[cache[p]] = states[cache[p]].generated
        for row in range(len(batch)):
            yield start + row, results[row]


def _prefill(backend: DecoderBackend, prompts: list[tuple[int, ...]], pad_id: int) -> np.ndarray:
    """Prefill the prompts; a prefix they all share (a student's control codes, a chat template's
    instruction) is run once and copied to every row, then each row's rest is appended. A backend
    that appends blocks row by row (extends_blocks False) gets the prefix only where it is at
    least half of the longest prompt: below that, one batched prefill of whole prompts is faster."""
    shared = _shared_prefix(prompts) if len(prompts) > 1 and hasattr(backend, "extend") else 0
    if not getattr(backend, "extends_blocks", True) and 2 * shared < max(map(len, prompts)):
        shared = 0
    if shared < _MIN_SHARED:
        return backend.prefill(*left_pad(prompts, pad_id))
    head = np.array([prompts[0][:shared]], dtype=np.int64)
    backend.prefill(head, np.ones_like(head))
    backend.select(np.zeros(len(prompts), dtype=np.int64))
    return backend.extend(*left_pad([p[shared:] for p in prompts], pad_id))


def _shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least one of its own."""
    limit = min(len(p) for p in prompts) - 1
    first = prompts[0]
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return n


def decode_by_length(
    backend: DecoderBackend,
    jobs: Sequence[DecodeJob],
    cfg: SamplingConfig,
    *,
    seed: int,
    max_new_tokens: Callable[[Sequence[DecodeJob]], int],
    eos_ids: frozenset[int],
    pad_id: int,
    batch_size: int,
    stop: StopFn | None = None,
) -> list[list[int]]:
    """Generated ids of every job, in job order, decoding the jobs in batches of similar prompt
    length (less padding). max_new_tokens(batch) sets each batch's limit. As every job keys its own
    random stream, the outputs do not depend on batch_size."""
    order = sorted(range(len(jobs)), key=lambda j: len(jobs[j].prompt))
    outputs: list[list[int]] = [[] for _ in jobs]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = [jobs[j] for j in chunk]
        for k, ids in decode_batches(backend, batch, cfg, seed=seed, max_new_tokens=max_new_tokens(batch),
                                     eos_ids=eos_ids, pad_id=pad_id, batch_size=len(batch), stop=stop):
            outputs[chunk[k]] = ids
    return outputs
