"""The kernel harness itself (tests/kernels/harness.py) sees every kind of disagreement, and what
holds for every kernel: a thread count never changes a result."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from impdist.errors import KernelArgumentError
from tests import conftest
from tests.kernels.harness import (DISTINCT_N, MINHASH, NGRAM_JACCARD, ROUGE, SELF_BLEU, SENTENCE_BLEU, Kernel,
                                   assert_identical, check, close)


@pytest.fixture(autouse=True)
def own_counters(monkeypatch):
    """The fake kernels below count into counters of their own, not the run's parity report."""
    monkeypatch.setattr(conftest, "PARITY", Counter())
    monkeypatch.setattr(conftest, "CALLS", Counter())


def two_paths(a, b, reference=lambda x: x) -> Kernel:
    """A kernel whose paths "a" and "b" answer with a(x) and b(x)."""
    return Kernel("fake", run=lambda path, x: (a if path == "a" else b)(x), reference=reference,
                  compare=close(0.0), paths=("a", "b"))


def raising(exc: Exception):
    def run(x):
        raise exc
    return run


def same(x):
    return np.asarray(x, dtype=np.float64)


def test_agreeing_paths_pass_and_are_counted():
    assert check(two_paths(same, same), [1.0, 2.0], tag="t").tolist() == [1.0, 2.0]
    assert conftest.PARITY == {"fake:t": 2, "b:fake:t": 2} and conftest.CALLS == {"fake:t": 1, "b:fake:t": 1}


@pytest.mark.parametrize("b, words", [
    (lambda x: same(x) + 1e-12, "values differ"),
    (lambda x: same(x).astype(np.float32), "float64.* vs float32"),
    (lambda x: same(x)[:1], r"\(2,\) vs float64\(1,\)"),
    (lambda x: x, "ndarray vs list"),
    (raising(KernelArgumentError("bad x")), "one raised, the other did not"),
])
def test_paths_that_disagree_fail(b, words):
    with pytest.raises(AssertionError, match=words):
        check(two_paths(same, b), [1.0, 2.0])


def test_paths_must_raise_the_same_exception_and_it_must_be_ours():
    with pytest.raises(AssertionError, match="different exceptions"):
        check(two_paths(raising(KernelArgumentError("bad x")), raising(KernelArgumentError("bad y"))), [1.0])
    with pytest.raises(AssertionError, match="different exceptions"):
        check(two_paths(raising(KernelArgumentError("bad x")), raising(ValueError("bad x"))), [1.0])
    with pytest.raises(AssertionError, match="not an impdist.errors class"):
        check(two_paths(raising(ValueError("bad x")), raising(ValueError("bad x"))), [1.0])
    with pytest.raises(KernelArgumentError, match="bad x"):
        check(two_paths(raising(KernelArgumentError("bad x")), raising(KernelArgumentError("bad x"))), [1.0])


def test_a_result_unlike_the_reference_fails_unless_the_reference_is_off():
    kernel = two_paths(same, same, reference=lambda x: same(x) * 2)
    with pytest.raises(AssertionError):
        check(kernel, [1.0])
    assert check(kernel, [1.0], reference=False).tolist() == [1.0]


def test_identical_means_type_and_every_item():
    assert_identical((np.zeros(2), ["a"]), (np.zeros(2), ["a"]), "same")
    with pytest.raises(AssertionError, match=r"x\[1\]\[0\]"):
        assert_identical((np.zeros(2), ["a"]), (np.zeros(2), ["b"]), "x")
    with pytest.raises(AssertionError):
        assert_identical(1, 1.0, "int vs float")


def _mrpc_args(kernel: Kernel, mrpc: list[dict]) -> tuple:
    srcs, refs = [r["src"] for r in mrpc], [r["refs"][0] for r in mrpc]
    return {ROUGE: (srcs * 3, refs * 3), SENTENCE_BLEU: (srcs * 2, [r["refs"] for r in mrpc] * 2),
            NGRAM_JACCARD: (srcs, refs)}.get(kernel, (srcs + refs,))


@pytest.mark.parametrize("kernel", [ROUGE, SENTENCE_BLEU, MINHASH, SELF_BLEU, DISTINCT_N, NGRAM_JACCARD],
                         ids=lambda k: k.name)
def test_threads_do_not_change_the_result(mrpc, kernel):
    args = _mrpc_args(kernel, mrpc)
    for path in kernel.usable_paths():
        assert_identical(kernel.run(path, *args, threads=1), kernel.run(path, *args, threads=2), kernel.name)
