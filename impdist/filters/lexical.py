"""Cheap per-pair scores (length ratio, ROUGE-L, BLEU, number agreement) and dataset diversity,
all through the batch kernels of impdist.kernels, so a shard costs a few kernel calls."""
from __future__ import annotations

from typing import Callable, Collection, Sequence

import numpy as np

from impdist import kernels
from impdist.filters.dedup import text_ids
from impdist.filters.numbers import agree_by_id
from impdist.metrics import compression, mean_compression
from impdist.tasks import check_task


SCORES = ("compression", "rougeL", "bleu", "numbers_ok")


def pair_scores(
    srcs: Sequence[str],
    tgts: Sequence[str],
    task: str,
    *,
    threads: int | None = None,
    keys: Collection[str] = SCORES,
) -> dict[str, np.ndarray]:
    """float64 arrays per pair: "compression" (len(tgt)/len(src), chars; src empty -> inf),
    "rougeL" (F1 of tgt vs src, rouge-score's tokenizer, no stemming), "bleu" (sacrebleu
    sentence BLEU of tgt against src, 0-100), "numbers_ok" (numbers_agree as 1.0 / 0.0).
    `keys` picks a subset when a chain does not threshold on every score."""
    check_task(task)
    if len(srcs) != len(tgts):
        raise ValueError(f"srcs and tgts differ in length: {len(srcs)} != {len(tgts)}")
    unknown = set(keys) - set(SCORES)
    if unknown:
        raise ValueError(f"unknown score(s) {sorted(unknown)}; pair_scores computes {SCORES}")
    # Texts repeat across the pairs of a context group: intern them once, and score each
    # distinct pair once (each unordered one for ROUGE-L, whose LCS and F1 are symmetric).
    texts, ids = text_ids([*srcs, *tgts])
    src_ids, tgt_ids = ids[: len(srcs)], ids[len(srcs) :]

    def rouge_l(s: list[str], t: list[str]) -> np.ndarray:
        return kernels.rouge(t, s, kind="rougeL", threads=threads)[:, 2]

    def bleu(s: list[str], t: list[str]) -> np.ndarray:
        return kernels.sentence_bleu(t, s, threads=threads)

    compute: dict[str, Callable[[], np.ndarray]] = {
        "compression": lambda: compression(srcs, tgts),
        "rougeL": lambda: _per_distinct_pair(texts, src_ids, tgt_ids, rouge_l, symmetric=True),
        "bleu": lambda: _per_distinct_pair(texts, src_ids, tgt_ids, bleu, symmetric=False),
        "numbers_ok": lambda: agree_by_id(texts, src_ids, tgt_ids, task, threads=threads).astype(np.float64),
    }
    return {key: compute[key]() for key in SCORES if key in keys}


def _per_distinct_pair(
    texts: Sequence[str],
    src_ids: np.ndarray,
    tgt_ids: np.ndarray,
    score: Callable[[list[str], list[str]], np.ndarray],
    *,
    symmetric: bool,
) -> np.ndarray:
    """score(srcs, tgts) of each distinct (src, tgt) pair, spread back over all pairs; with
    `symmetric`, (a, b) and (b, a) are one pair (the score must be bit-for-bit symmetric)."""
    a, b = (np.minimum(src_ids, tgt_ids), np.maximum(src_ids, tgt_ids)) if symmetric else (src_ids, tgt_ids)
    _, first, inverse = np.unique(a * len(texts) + b, return_index=True, return_inverse=True)
    return score([texts[i] for i in src_ids[first]], [texts[i] for i in tgt_ids[first]])[inverse]


def dataset_diversity(
    srcs: Sequence[str], tgts: Sequence[str], *, threads: int | None = None
) -> dict[str, float]:
    """Diversity of a dataset for its card: distinct-1/2 and mean self-BLEU (0-1, BLEU-4) of the
    targets, mean ROUGE-L F1 of tgt vs src, mean compression over pairs with a non-empty src.
    NaN where undefined (no pairs; self-BLEU needs two targets)."""
    if len(srcs) != len(tgts):
        raise ValueError(f"srcs and tgts differ in length: {len(srcs)} != {len(tgts)}")
    nan = float("nan")
    return {
        "distinct_1": kernels.distinct_n(tgts, 1, threads=threads) if len(tgts) else nan,
        "distinct_2": kernels.distinct_n(tgts, 2, threads=threads) if len(tgts) else nan,
        "self_bleu": float(kernels.self_bleu(tgts, threads=threads).mean()) if len(tgts) >= 2 else nan,
        "rougeL_mean": float(kernels.rouge(tgts, srcs, threads=threads)[:, 2].mean()) if len(tgts) else nan,
        "compression_mean": mean_compression(srcs, tgts),
    }
