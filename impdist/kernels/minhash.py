"""MinHash signatures bit-identical to datasketch's, so its LSH indexes take them unchanged.

``datasketch.MinHash(num_perm, seed, scheme=...)`` updated with every shingle's UTF-8 bytes
gives ``hashvalues`` equal to our row. datasketch 2.x defaults to scheme "affine32" (uint32
values); "legacy" is the pre-2.0 scheme (uint64 storage of 32-bit values); "affine64" uses
64-bit hashes.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence, Union

import numpy as np

from impdist.errors import KernelArgumentError
from impdist.kernels import _core
from impdist.kernels._device import check_device, cuda_module, threads_arg
from impdist.kernels._errors import core_errors

SCHEMES = {"legacy": 0, "affine32": 1, "affine64": 2}
_MERSENNE61 = (1 << 61) - 1

Shingle = Union[str, int]


@lru_cache(maxsize=32)
def permutations(num_perm: int, seed: int, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) parameters datasketch draws for (num_perm, seed, scheme), as uint64 arrays."""
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        pairs = [
            (gen.randint(1, _MERSENNE61, dtype=np.uint64), gen.randint(0, _MERSENNE61, dtype=np.uint64))
            for _ in range(num_perm)
        ]
        a, b = np.array(pairs, dtype=np.uint64).T
    else:
        width = 32 if scheme == "affine32" else 64
        dtype = np.uint32 if width == 32 else np.uint64
        a = gen.randint(0, 1 << (width - 1), num_perm, dtype=dtype) * dtype(2) + dtype(1)
        b = gen.randint(0, 1 << width, num_perm, dtype=dtype)
    a = np.ascontiguousarray(a, dtype=np.uint64)
    b = np.ascontiguousarray(b, dtype=np.uint64)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _shingle_arg(shingle: Shingle) -> int:
    if shingle == "word":
        return 0
    if isinstance(shingle, int) and not isinstance(shingle, bool) and shingle >= 1:
        return shingle
    raise KernelArgumentError(f"shingle must be 'word' or a positive int (character n-gram size), got {shingle!r}")


def shingles(text: str, shingle: Shingle = "word") -> list[str]:
    """The shingles minhash() hashes for one text: ``text.split()`` words, or every run of k
    code points (the whole text when shorter than k, none when empty)."""
    k = _shingle_arg(shingle)
    if k == 0:
        return text.split()
    if not text:
        return []
    if len(text) < k:
        return [text]
    return [text[i : i + k] for i in range(len(text) - k + 1)]


def minhash(
    texts: Sequence[str],
    num_perm: int = 128,
    seed: int = 1,
    shingle: Shingle = "word",
    scheme: str = "affine32",
    threads: int | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """(n, num_perm) signatures: uint32 for scheme "affine32", uint64 otherwise, equal to
    ``datasketch.MinHash(num_perm=num_perm, seed=seed, scheme=scheme)`` updated with the UTF-8
    bytes of each of ``shingles(text, shingle)``."""
    if scheme not in SCHEMES:
        raise KernelArgumentError(f"scheme must be one of {sorted(SCHEMES)}, got {scheme!r}")
    if not isinstance(num_perm, int) or isinstance(num_perm, bool) or not 1 <= num_perm <= 1 << 16:
        raise KernelArgumentError(f"num_perm must be an int in [1, 65536], got {num_perm!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 1 << 32:
        raise KernelArgumentError(f"seed must be an int in [0, 2**32), got {seed!r}")
    k = _shingle_arg(shingle)
    a, b = permutations(num_perm, seed, scheme)
    nt = threads_arg(threads)
    with core_errors():
        if check_device(device) == "cpu":
            return _core.minhash(texts, k, a, b, SCHEMES[scheme], nt)
        cuda = cuda_module()
        return cuda.minhash(_core.shingle_batch(texts, k), a, b, SCHEMES[scheme])
