"""MinHash-LSH near-duplicates over minhash() signatures, first wins, on all cores.

The decisions equal datasketch's ``MinHashLSH(num_perm, params=(bands, rows))`` used in input
order as "query the kept rows, verify ``MinHash.jaccard >= threshold``, insert when nothing
matched", the reference the tests hold it to.
"""
from __future__ import annotations

import numpy as np

from impdist.errors import KernelArgumentError, KernelTypeError
from impdist.kernels import _core
from impdist.kernels._device import threads_arg
from impdist.kernels._errors import core_errors


def _positive_int(value: object, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise KernelArgumentError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def near_duplicates(
    signatures: np.ndarray, threshold: float, bands: int, rows: int, threads: int | None = None
) -> np.ndarray:
    """bool (n,): True for rows that match an earlier kept row, False for the rows kept.

    A match shares a band (``rows`` consecutive columns among the first ``bands * rows``, all
    equal) and has an estimated Jaccard (share of equal columns) >= threshold. ``signatures`` are
    minhash() rows (uint32 or uint64); (bands, rows) are usually datasketch's choice for the
    threshold (impdist.filters.dedup.lsh_params).
    """
    sig = np.asarray(signatures)
    if sig.dtype not in (np.uint32, np.uint64) or sig.ndim != 2:
        raise KernelTypeError(f"signatures must be a 2-D uint32 or uint64 array (minhash() rows), "
                              f"got {sig.dtype} with shape {sig.shape}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) or not 0 <= threshold <= 1:
        raise KernelArgumentError(f"threshold must be a number in [0, 1], got {threshold!r}")
    bands, rows = _positive_int(bands, "bands"), _positive_int(rows, "rows")
    nt = threads_arg(threads)
    with core_errors():
        return _core.lsh_near_duplicates(np.ascontiguousarray(sig), bands, rows, float(threshold), nt)
