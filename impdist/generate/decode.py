"""The decode loop: batches of prompts through a DecoderBackend, sampling with sampling.py,
stopping each sequence on its own criterion and dropping finished rows from the batch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from impdist.generate.backend import DecoderBackend
from impdist.generate.sampling import SamplingConfig, SequenceState, new_state, select_next


@dataclass(frozen=True)
class DecodeJob:
    """One sequence to generate: prompt token ids and the key of its random stream."""

    prompt: tuple[int, ...]
    key: int


# A stop criterion sees the sequence after each new token; True ends it there.
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
        states = [new_state(list(j.prompt), seed, j.key, cfg.no_repeat_ngram_size) for j in batch]
        results: dict[int, list[int]] = {}
        active = list(range(len(batch)))  # batch rows still decoding, in cache order
        # Samples of one context share a prompt: prefill each distinct prompt once, then copy rows.
        unique: dict[tuple[int, ...], int] = {}
        expand = np.array([unique.setdefault(j.prompt, len(unique)) for j in batch], dtype=np.int64)
        ids, mask = left_pad(list(unique), pad_id)
        logits = backend.prefill(ids, mask)
        if len(unique) < len(batch):
            backend.select(expand)
            logits = logits[expand]
        for _ in range(max_new_tokens):
            chosen = select_next(logits, [states[r] for r in active], cfg)
            keep = []
            for pos, row in enumerate(active):
                st = states[row]
                if int(chosen[pos]) in eos_ids:
                    st.generated.pop()
                    results[row] = st.generated
                elif (stop is not None and stop(st)) or len(st.generated) >= max_new_tokens:
                    results[row] = st.generated
                else:
                    keep.append(pos)
            if not keep:
                active = []
                break
            if len(keep) < len(active):
                backend.select(np.asarray(keep, dtype=np.int64))
                active = [active[p] for p in keep]
                chosen = chosen[keep]
            logits = backend.step(chosen)
        for row in active:
            results[row] = states[row].generated
        for row in range(len(batch)):
            yield start + row, results[row]
