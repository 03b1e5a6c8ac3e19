"""The contract between the decode loop and a model runtime (PyTorch, ONNX Runtime).

A backend runs one batched forward step of a causal LM and keeps its own KV cache. The decode
loop (impdist/decoding/decode.py) owns sampling, stopping and batching, so every backend gets
the same sampling semantics; a backend only turns token ids into next-token logits.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class DecoderBackend(Protocol):
    """Batched causal-LM forward steps over a KV cache kept by the backend."""

    name: str          # "torch", "onnx" or "onnx-int8"
    vocab_size: int    # width of the logits rows
    # Whether extend() runs a block of several tokens per row as one batched forward; False: row by
    # row, at about half the tokens per second, so the decode loop prefills a shared prompt prefix
    # once only where it is at least half of the prompts (impdist.decoding.decode._prefill).
    extends_blocks: bool = True

    def prefill(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Start a batch. input_ids/attention_mask: int64 (B, T), LEFT-padded (mask 0 on pads).

        Returns float32 (B, V) logits of the next token after each row's last real token and
        replaces any previous cache.
        """
        ...

    def step(self, next_ids: np.ndarray) -> np.ndarray:
        """Append one token per row (int64 (B,)); returns float32 (B, V) next-token logits.
        A backend that subclasses this protocol gets it as a one-token `extend`."""
        ids = np.ascontiguousarray(next_ids, dtype=np.int64).reshape(-1, 1)
        return self.extend(ids, np.ones_like(ids))

    def extend(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Append a block of tokens per row to the cache: int64 (B, S), LEFT-padded within the
        block (mask 0 on pads). Returns float32 (B, V) logits after each row's last token. The
        decode loop prefills a prompt prefix the whole batch shares once, then extends it."""
        ...

    def select(self, rows: np.ndarray) -> None:
        """Make the cache hold these batch rows (int64 indices), in this order. Indices may
        repeat: the decode loop prefills a shared prompt once and copies its row."""
        ...

    def log_likelihoods(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """float32 (B, T-1): log p(token t | tokens < t) for t = 1..T-1 (RIGHT-padded input;
        entries where attention_mask[:, t] == 0 are 0). Does not touch the decode cache."""
        ...
