"""The numbers ASCII sentences state, scanned in C++ for the number-consistency filter.

The grammar and its normal forms are documented (and implemented as a regex, the reference) in
impdist/filters/numbers.py, which is the public API; tests hold the two equal.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from impdist.kernels import _core
from impdist.kernels._device import threads_arg
from impdist.kernels._errors import core_errors


def scan_numbers(
    texts: Sequence[str], threads: int | None = None
) -> tuple[np.ndarray, list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Per text: whether it was scanned (False = not ASCII, read it with the regex instead), its
    normalised numerals, and its lower-cased spans of number words (for number-parser)."""
    nt = threads_arg(threads)
    with core_errors():
        return _core.scan_numbers(texts, nt)
