"""MinHash signatures against datasketch, bit for bit, in every permutation scheme."""
from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from impdist.kernels import _core
from tests.conftest import record
from tests.kernels.strategies import any_text

SCHEMES = ["affine32", "legacy", "affine64"]
shingle_arg = st.one_of(st.just("word"), st.integers(1, 9), st.integers(50, 130))


def reference(texts, num_perm, seed, shingle, scheme):
    rows = []
    for t in texts:
        m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        m.update_batch([s.encode("utf-8") for s in kernels.shingles(t, shingle)])
        rows.append(m.hashvalues)
    return np.array(rows).reshape(len(texts), num_perm)


def assert_parity(texts, num_perm, seed, shingle, scheme, label):
    ours = kernels.minhash(texts, num_perm=num_perm, seed=seed, shingle=shingle, scheme=scheme)
    ref = reference(texts, num_perm, seed, shingle, scheme)
    assert ours.dtype == ref.dtype
    assert np.array_equal(ours, ref)
    record(label, len(texts))


@given(st.lists(any_text, min_size=5, max_size=30), st.sampled_from([1, 7, 64, 128]), st.integers(0, 2**32 - 1),
       shingle_arg, st.sampled_from(SCHEMES))
def test_matches_datasketch_on_random_text(texts, num_perm, seed, shingle, scheme):
    assert_parity(texts, num_perm, seed, shingle, scheme, "minhash")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("shingle", ["word", 5])
def test_matches_datasketch_on_mrpc(mrpc, scheme, shingle):
    texts = [r["src"] for r in mrpc] + [r["refs"][0] for r in mrpc]
    assert_parity(texts, 128, 1, shingle, scheme, "minhash:mrpc")


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20))
def test_sha1_paths_agree_with_hashlib(blobs):
    # Lengths around 55/56/64 bytes cross SHA-1's padding cases; both CPU paths must agree.
    blobs += [bytes(range(n % 256)) * 1 for n in (0, 55, 56, 63, 64, 119, 120, 128, 200)]
    for allow_ni in (True, False):
        words = _core.sha1(blobs, allow_ni)
        digest = [b"".join(int(w).to_bytes(4, "big") for w in row) for row in words]
        assert digest == [hashlib.sha1(b).digest() for b in blobs]
    record("sha1", len(blobs))


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
    sig = kernels.minhash(["", "   "], num_perm=16)
    assert np.array_equal(sig, np.full((2, 16), 2**32 - 1, dtype=np.uint32))


def test_long_and_unicode_texts():
    rng = random.Random(3)
    long_text = " ".join(rng.choice(["alpha", "beta", "γάμμα", "δ😀"]) for _ in range(10_000))
    for scheme in SCHEMES:
        assert_parity([long_text, "x" * 300], 32, 5, 9, scheme, "minhash:long")


def test_threads_do_not_change_the_result(mrpc):
    texts = [r["src"] for r in mrpc]
    assert np.array_equal(kernels.minhash(texts, threads=1), kernels.minhash(texts, threads=2))
