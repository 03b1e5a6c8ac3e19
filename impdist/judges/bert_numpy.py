"""Sentence embeddings of a BERT-family encoder (the embedded MiniLM) in numpy, for the torch-free
serving install: best-of summaries need the embedder's cosine (impdist.filters.informativeness),
and `impdist[serve]` has neither torch nor transformers. The weights come from the model's
model.safetensors, the tokens from its tokenizer.json (`tokenizers`); pooling and normalisation
follow impdist.judges.embed.Embedder, whose rows these equal to float32 rounding (tests compare).
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from impdist.errors import ImpdistError
from impdist.extras import install_hint
from impdist.judges.embed import _max_length, _pooling_modes, length_batches
from impdist.models.embedded import DEFAULT_EMBEDDER
from impdist.models.names import embedding_model_dir

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a numpy array (float32 for floating point)."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = (8 + n + int(o) for o in info["data_offsets"])
        if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            raw = np.frombuffer(data[start:end], dtype=np.uint16).astype(np.uint32) << 16
            array = raw.view(np.float32)
        elif info["dtype"] in _DTYPES:
            array = np.frombuffer(data[start:end], dtype=_DTYPES[info["dtype"]])
        else:
            raise ImpdistError(f"{path}: tensor {name} has dtype {info['dtype']}, which the numpy encoder does not read")
        array = array.reshape(info["shape"])
        out[name] = array.astype(np.float32) if array.dtype.kind == "f" else array
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to about 1e-7 (Abramowitz and Stegun 7.1.26), which numpy lacks; BERT's GELU uses it."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class NumpyEmbedder:
    """L2-normalised sentence embeddings (n, dim) float32 of a BERT encoder, in numpy."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, *, batch_size: int = 64) -> None:
        from tokenizers import Tokenizer  # the serving install's tokenizer library

        path = embedding_model_dir(model)
        config = json.loads((path / "config.json").read_bytes())
        weights_file, tokenizer_file = path / "model.safetensors", path / "tokenizer.json"
        if config.get("model_type") != "bert" or not weights_file.is_file() or not tokenizer_file.is_file():
            raise ImpdistError(f"{model}: the numpy encoder reads BERT models with model.safetensors and "
                               f"tokenizer.json only; for other embedders install {install_hint('models')}")
        if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ImpdistError(f"{model}: the numpy encoder runs BERT with GELU and absolute positions only; "
                               f"install {install_hint('models')} for this one")
        self.model_name, self.batch_size = model, batch_size
        self.weights = {k.removeprefix("bert."): v for k, v in read_safetensors(weights_file).items()}
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.modes = _pooling_modes(path)
        self.max_length = min(_max_length(path), int(config["max_position_embeddings"]))
        self.dim = int(config["hidden_size"]) * len(self.modes)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text, in input order; empty input gives shape (0, dim)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx in length_batches([len(t) for t in texts], self.batch_size):
            encoded = self.tokenizer.encode_batch([texts[i] for i in idx])
            width = max(len(e.ids) for e in encoded)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.float32)
            for row, e in enumerate(encoded):
                ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1.0
            vectors = _pool(self._encode(ids, mask), mask, self.modes)
            out[idx] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden states (B, T, H) of right-padded ids."""
        w = self.weights
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        bias = (1.0 - mask)[:, None, None, :] * np.finfo(np.float32).min  # pads get no attention
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            x = self._block(x, bias, lambda name, p=p: w[p + name])
        return x

    def _block(self, x: np.ndarray, bias: np.ndarray, w) -> np.ndarray:
        """One transformer layer: self-attention and the feed-forward, each with residual and LayerNorm."""
        batch, width, hidden = x.shape
        d = hidden // self.heads

        def heads(name: str) -> np.ndarray:
            y = x @ w(f"attention.self.{name}.weight").T + w(f"attention.self.{name}.bias")
            return y.reshape(batch, width, self.heads, d).transpose(0, 2, 1, 3)

        scores = heads("query") @ heads("key").transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ heads("value")).transpose(0, 2, 1, 3).reshape(batch, width, hidden)
        attended = context @ w("attention.output.dense.weight").T + w("attention.output.dense.bias")
        x = _layer_norm(attended + x, w("attention.output.LayerNorm.weight"), w("attention.output.LayerNorm.bias"),
                        self.eps)
        inner = x @ w("intermediate.dense.weight").T + w("intermediate.dense.bias")
        inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))
        out = inner @ w("output.dense.weight").T + w("output.dense.bias")
        return _layer_norm(out + x, w("output.LayerNorm.weight"), w("output.LayerNorm.bias"), self.eps)


def _pool(hidden: np.ndarray, mask: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """impdist.judges.embed's pooling (sentence-transformers' modes over real tokens), in numpy."""
    m = mask[:, :, None]
    counts = np.maximum(m.sum(axis=1), 1e-9)
    parts = []
    for mode in modes:
        if mode == "cls_token":
            parts.append(hidden[:, 0])
        elif mode == "max_tokens":
            parts.append(np.where(m > 0, hidden, -np.inf).max(axis=1))
        elif mode == "mean_tokens":
            parts.append((hidden * m).sum(axis=1) / counts)
        else:  # mean_sqrt_len_tokens
            parts.append((hidden * m).sum(axis=1) / np.sqrt(counts))
    return np.concatenate(parts, axis=1).astype(np.float32)


@lru_cache(maxsize=2)
def load_numpy_embedder(model: str = DEFAULT_EMBEDDER) -> NumpyEmbedder:
    """The NumpyEmbedder of `model`, loaded once per process."""
    return NumpyEmbedder(model)
