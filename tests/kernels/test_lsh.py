"""MinHash-LSH near-duplicates (kernels.near_duplicates) against datasketch's MinHashLSH used as
query, verify, insert in input order: the same keep decisions, on one thread and on several."""
from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from impdist.errors import KernelArgumentError, KernelTypeError
from tests.kernels.harness import NEAR_DUPLICATES, check

WORDS = [f"w{i}" for i in range(40)]


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's own (bands, rows) for the threshold."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def near_copies(rng: random.Random, n: int, vocab: list[str], edits: int = 2) -> list[str]:
    """n texts, most of them an earlier text with a few words changed, dropped or added."""
    out: list[str] = []
    for _ in range(n):
        if out and rng.random() < 0.7:
            w = rng.choice(out).split()
            for _ in range(rng.randint(0, edits)):
                op = rng.random()
                if op < 0.4 and w:
                    w[rng.randrange(len(w))] = rng.choice(vocab)
                elif op < 0.7 and w:
                    del w[rng.randrange(len(w))]
                else:
                    w.insert(rng.randint(0, len(w)), rng.choice(vocab))
            out.append(" ".join(w))
        else:
            out.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 14))))
    return out


@given(st.integers(0, 2**32 - 1), st.integers(1, 120), st.sampled_from([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0]),
       st.sampled_from([16, 64, 128]), st.sampled_from(["affine32", "affine64"]), st.sampled_from([1, 2]), st.data())
def test_matches_datasketch_lsh(seed, n, threshold, num_perm, scheme, threads, data):
    texts = near_copies(random.Random(seed), n, WORDS)
    sig = kernels.minhash(texts, num_perm=num_perm, scheme=scheme)
    # datasketch's own choice for the threshold, or any banding it accepts (it wants >= 2 bands).
    bands = data.draw(st.integers(2, min(32, num_perm)))
    rows = data.draw(st.integers(1, num_perm // bands))
    if 0.3 <= threshold <= 0.8 and data.draw(st.booleans()):
        bands, rows = lsh_params(threshold, num_perm)
    check(NEAR_DUPLICATES, sig, threshold=threshold, bands=bands, rows=rows, threads=threads)


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_large_batch_on_every_core(threshold):
    # Above 1024 rows the band sorts and the verification run in parallel; big runs of equal bands
    # (one word changed among many copies) and exact copies both occur.
    rng = random.Random(5)
    vocab = [f"v{i}" for i in range(3000)]
    texts = near_copies(rng, 4000, vocab, edits=3) + ["", "", "   "]
    sig = kernels.minhash(texts, num_perm=128)
    bands, rows = lsh_params(threshold, 128)
    drop = check(NEAR_DUPLICATES, sig, threshold=threshold, bands=bands, rows=rows, threads=2, tag="large")
    assert drop[-1] and drop[-2] and 0 < drop.sum() < len(texts)
    assert np.array_equal(drop, kernels.near_duplicates(sig, threshold, bands, rows, threads=1))


def test_empty_and_identical_rows():
    sig = kernels.minhash(["a b c", "a b c", "x y z", ""], num_perm=32)
    assert kernels.near_duplicates(sig, 0.8, 4, 8).tolist() == [False, True, False, False]
    assert kernels.near_duplicates(sig[:0], 0.8, 4, 8).shape == (0,)


@pytest.mark.parametrize("args, error, words", [
    ((np.zeros((2, 8), np.int64), 0.8, 2, 4), KernelTypeError, "uint32 or uint64"),
    ((np.zeros(8, np.uint32), 0.8, 2, 4), KernelTypeError, "2-D"),
    ((np.zeros((2, 8), np.uint32), 1.5, 2, 4), KernelArgumentError, "threshold"),
    ((np.zeros((2, 8), np.uint32), 0.8, 0, 4), KernelArgumentError, "bands"),
    ((np.zeros((2, 8), np.uint32), 0.8, 3, 4), KernelArgumentError, "bands \\* rows"),
    ((np.zeros((2, 8), np.uint32), 0.8, 2, True), KernelArgumentError, "rows"),
])
def test_bad_arguments(args, error, words):
    with pytest.raises(error, match=words):
        kernels.near_duplicates(*args)


def test_non_contiguous_signatures_are_accepted():
    sig = kernels.minhash(["a b c d", "a b c d", "q r s t"], num_perm=64)
    assert kernels.near_duplicates(sig[:, ::2], 0.8, 4, 8).tolist() == [False, True, False]
