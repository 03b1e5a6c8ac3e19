"""A DecoderBackend whose logits depend only on the last two tokens: cheap, deterministic, and
easy to recompute without a cache, so the decode loop can be checked exactly."""
from __future__ import annotations

import numpy as np


class FakeBackend:
    name = "fake"

    def __init__(self, vocab: int = 50, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.vocab_size = vocab
        self.table = rng.normal(size=(vocab, vocab, vocab)).astype(np.float32) * 3
        self.last: np.ndarray | None = None  # (B, 2) last two tokens per row
        self.steps = 0

    def logits_for(self, prev2: int, prev1: int) -> np.ndarray:
        return self.table[prev2, prev1]

    def prefill(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        rows = []
        for ids, mask in zip(input_ids, attention_mask):
            real = ids[mask.astype(bool)].tolist()
            real = [0, 0] + real
            rows.append(real[-2:])
        self.last = np.array(rows, dtype=np.int64)
        return np.stack([self.logits_for(a, b) for a, b in self.last])

    def step(self, next_ids: np.ndarray) -> np.ndarray:
        assert self.last is not None and len(next_ids) == len(self.last)
        self.steps += 1
        self.last = np.stack([self.last[:, 1], next_ids], axis=1)
        return np.stack([self.logits_for(a, b) for a, b in self.last])

    def extend(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        assert self.last is not None and len(input_ids) == len(self.last)
        self.extends = getattr(self, "extends", 0) + 1
        rows = []
        for last, ids, mask in zip(self.last, input_ids, attention_mask):
            real = last.tolist() + ids[mask.astype(bool)].tolist()
            rows.append(real[-2:])
        self.last = np.array(rows, dtype=np.int64)
        return np.stack([self.logits_for(a, b) for a, b in self.last])

    def select(self, rows: np.ndarray) -> None:
        assert self.last is not None
        self.last = self.last[rows]

    def log_likelihoods(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        out = np.zeros((len(input_ids), input_ids.shape[1] - 1), dtype=np.float32)
        for r, (ids, mask) in enumerate(zip(input_ids, attention_mask)):
            seq = [0, 0] + ids.tolist()
            for t in range(1, len(ids)):
                if mask[t]:
                    logits = self.logits_for(seq[t], seq[t + 1]).astype(np.float64)
                    out[r, t - 1] = logits[ids[t]] - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        return out
