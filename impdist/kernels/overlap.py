"""Pairwise n-gram overlap on whitespace tokens (``str.split()``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from impdist.kernels import _core
from impdist.kernels._device import threads_arg
from impdist.kernels._errors import core_errors
from impdist.kernels.diversity import _check_order


def ngram_jaccard(a: Sequence[str], b: Sequence[str], n: int = 1, threads: int | None = None) -> np.ndarray:
    """float64 (len(a),): Jaccard similarity of the n-gram sets of a[i] and b[i].

    Case-sensitive, on ``str.split()`` tokens; 0.0 when neither side has an n-gram.
    """
    _check_order("n", n)
    nt = threads_arg(threads)
    with core_errors():
        return _core.ngram_jaccard(a, b, n, nt)
