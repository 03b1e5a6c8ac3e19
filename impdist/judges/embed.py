"""Sentence embeddings: the embedded MiniLM or any sentence-transformers / Hugging Face encoder.

Pooling follows the model's sentence-transformers config (``1_Pooling/config.json``; mean over
tokens when there is none) and rows are always L2-normalised, so a dot product is the cosine.
Also home of what every user of sentence embeddings shares: the cosine of embedded pairs (the
embedding judge, the evaluation's similarity, the summary choice, the filter stage), and
length-sorted batches (padding costs as much as real tokens on a CPU), which the judges use too.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from impdist.decoding.runtime import set_torch_threads
from impdist.errors import ImpdistError
from impdist.models.embedded import DEFAULT_EMBEDDER
from impdist.models.names import embedding_model_dir, load_tokenizer

__all__ = ["Embedder", "cosine", "embed_pairs", "length_batches", "load_embedder", "pair_similarity"]

DEFAULT_MAX_LENGTH = 256  # tokens; sentence-transformers' max_seq_length for MiniLM, when unstated
_POOLING_MODES = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens")  # ST's order


def embed_pairs(embedder: Embedder, a: Sequence[str], b: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The unit rows e(a[i]) and e(b[i]) from `embedder` (anything with Embedder.embed); each
    distinct text is embedded once, however many pairs share it."""
    if len(a) != len(b):
        raise ValueError(f"need as many texts on each side of the pairs, got {len(a)} and {len(b)}")
    texts = list(dict.fromkeys([*a, *b]))
    if not texts:
        empty = np.zeros((0, 0), dtype=np.float32)
        return empty, empty
    row = {t: i for i, t in enumerate(texts)}
    vectors = embedder.embed(texts)
    return vectors[[row[t] for t in a]], vectors[[row[t] for t in b]]


def cosine(ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
    """float64 cosine of each pair of rows of L2-normalised embeddings (their dot product),
    clipped to [-1, 1] against rounding."""
    return np.clip(np.einsum("ij,ij->i", ea, eb, dtype=np.float64), -1.0, 1.0)


def pair_similarity(embedder: Embedder, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """float64 cosine of the sentence embeddings of a[i] and b[i] (embed_pairs, then cosine)."""
    return cosine(*embed_pairs(embedder, a, b))


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Index batches of items with similar lengths (longest first), so batches pad little."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


@lru_cache(maxsize=2)
def load_embedder(model: str = DEFAULT_EMBEDDER, device: str = "cpu", threads: int | None = None) -> Embedder:
    """The Embedder of (model, device), loaded once per process and shared by its users."""
    return Embedder(model, device=device, threads=threads)


class Embedder:
    """L2-normalised sentence embeddings (n, dim) float32 from an encoder, batched and length-sorted."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, *, device: str = "cpu", batch_size: int = 64,
                 threads: int | None = None, max_length: int | None = None) -> None:
        import torch
        from transformers import AutoModel

        path = embedding_model_dir(model)
        set_torch_threads(threads, device)
        self.model_name = model
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer(path)
        self.encoder = AutoModel.from_pretrained(path, dtype=torch.float32).to(self.device).eval()
        self.modes = _pooling_modes(path)
        self.max_length = max_length or _max_length(path)
        self.dim = int(self.encoder.config.hidden_size) * len(self.modes)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text, in input order; empty input gives shape (0, dim)."""
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx in length_batches([len(t) for t in texts], self.batch_size):
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                hidden = self.encoder(**batch).last_hidden_state
                vectors = _pool(hidden, batch["attention_mask"], self.modes)
                vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
            out[idx] = vectors.float().cpu().numpy()
        return out


def _pool(hidden, mask, modes: Sequence[str]):
    """sentence-transformers' Pooling: the chosen modes over real (unmasked) tokens, concatenated."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    counts = m.sum(dim=1).clamp(min=1e-9)
    parts = []
    for mode in modes:
        if mode == "cls_token":
            parts.append(hidden[:, 0])
        elif mode == "max_tokens":
            parts.append(hidden.masked_fill(m == 0, float("-inf")).max(dim=1).values)
        elif mode == "mean_tokens":
            parts.append((hidden * m).sum(dim=1) / counts)
        else:  # mean_sqrt_len_tokens
            parts.append((hidden * m).sum(dim=1) / counts.sqrt())
    return torch.cat(parts, dim=1)


def _pooling_modes(path: Path) -> tuple[str, ...]:
    """The pooling modes the model's sentence-transformers config turns on (mean when unstated)."""
    config = _pooling_config(path)
    if config is None:
        return ("mean_tokens",)
    modes = tuple(m for m in _POOLING_MODES if config.get(f"pooling_mode_{m}"))
    if not modes:
        raise ImpdistError(f"{path}: its pooling config turns on no mode this Embedder supports "
                           f"({', '.join(_POOLING_MODES)}); set one of pooling_mode_<mode> to true.")
    return modes


def _pooling_config(path: Path) -> dict | None:
    pooling_dirs = ["1_Pooling"]
    modules = path / "modules.json"
    if modules.is_file():  # the Pooling module may live under another name
        pooling_dirs = [m.get("path", "") for m in json.loads(modules.read_text())
                        if str(m.get("type", "")).endswith(".Pooling")] or pooling_dirs
    for name in pooling_dirs:
        config = path / name / "config.json"
        if config.is_file():
            return json.loads(config.read_text())
    return None


def _max_length(path: Path) -> int:
    """sentence_bert_config.json's max_seq_length, else DEFAULT_MAX_LENGTH."""
    config = path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length") or DEFAULT_MAX_LENGTH)
    return DEFAULT_MAX_LENGTH
