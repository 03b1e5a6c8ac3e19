"""Corpus diversity on whitespace tokens (``str.split()``): self-BLEU and distinct-n."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from impdist.errors import KernelArgumentError
from impdist.kernels import _core
from impdist.kernels._device import threads_arg
from impdist.kernels._errors import core_errors


def _check_order(name: str, n: int, lo: int = 1, hi: int = 32) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not lo <= n <= hi:
        raise KernelArgumentError(f"{name} must be an int in [{lo}, {hi}], got {n!r}")
    return n


def self_bleu(sents: Sequence[str], max_n: int = 4, threads: int | None = None) -> np.ndarray:
    """float64 (n,): BLEU-max_n (0-1) of each sentence against all the others.

    Equals fast-bleu's ``SelfBLEU(tokens, {max_n: uniform}).get_score()`` (nltk BLEU, smoothing
    method1) but runs in time linear in the corpus, from leave-one-out top-two n-gram counts.
    """
    _check_order("max_n", max_n)
    nt = threads_arg(threads)
    with core_errors():
        out = _core.self_bleu(sents, max_n, nt)
    if len(out) < 2:
        raise KernelArgumentError(f"self_bleu needs at least 2 sentences, got {len(out)}")
    return out


def distinct_n(sents: Sequence[str], n: int = 2, threads: int | None = None) -> float:
    """Distinct n-grams over all n-grams of the corpus (Li et al., 2016); 0.0 when there are none."""
    _check_order("n", n)
    nt = threads_arg(threads)
    with core_errors():
        return float(_core.distinct_n(sents, n, nt))
