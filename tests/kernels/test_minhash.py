"""MinHash signatures against datasketch, bit for bit, in every permutation scheme and on every
path; its SHA-1 (both CPU code paths) against hashlib."""
from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from tests.kernels.harness import MINHASH, SHA1, check
from tests.kernels.strategies import any_text

SCHEMES = ["affine32", "legacy", "affine64"]
shingle_arg = st.one_of(st.just("word"), st.integers(1, 9), st.integers(50, 130))


@given(st.lists(any_text, min_size=5, max_size=30), st.sampled_from([1, 7, 64, 100, 128, 130, 256]),
       st.integers(0, 2**32 - 1), shingle_arg, st.sampled_from(SCHEMES))
def test_matches_datasketch_on_random_text(texts, num_perm, seed, shingle, scheme):
    check(MINHASH, texts, num_perm=num_perm, seed=seed, shingle=shingle, scheme=scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("shingle", ["word", 5])
def test_matches_datasketch_on_mrpc(mrpc, scheme, shingle):
    texts = [r["src"] for r in mrpc] + [r["refs"][0] for r in mrpc]
    check(MINHASH, texts, shingle=shingle, scheme=scheme, tag="mrpc")


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20))
def test_sha1_paths_agree_with_hashlib(blobs):
    # Lengths around 55/56/64 bytes cross SHA-1's padding cases.
    check(SHA1, blobs + [bytes(range(n % 256)) for n in (0, 55, 56, 63, 64, 119, 120, 128, 200)])


def test_signatures_work_in_datasketch_lsh(mrpc):
    texts = [r["src"] for r in mrpc[:300]]
    sigs = kernels.minhash(texts, num_perm=128)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for i, sig in enumerate(sigs):
        lsh.insert(str(i), LeanMinHash(seed=1, hashvalues=sig, scheme="affine32"))
    probe = MinHash(num_perm=128)
    probe.update_batch([w.encode() for w in texts[42].split()])
    assert "42" in lsh.query(probe)


def test_empty_text_is_the_empty_minhash():
    sig = check(MINHASH, ["", "   "], num_perm=16)
    assert np.array_equal(sig, np.full((2, 16), 2**32 - 1, dtype=np.uint32))


def test_long_and_unicode_texts():
    rng = random.Random(3)
    long_text = " ".join(rng.choice(["alpha", "beta", "γάμμα", "δ😀"]) for _ in range(10_000))
    for scheme in SCHEMES:
        check(MINHASH, [long_text, "x" * 300], num_perm=32, seed=5, shingle=9, scheme=scheme, tag="long")
