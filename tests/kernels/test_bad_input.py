"""Bad input gets one clear impdist error naming the argument, the same on every path; odd but
valid input gets correct numbers.

Where no GPU is usable, the bad-input tests still run the CUDA path, against a stand-in for the
CUDA module whose kernels fail the test if reached: a bad argument must be refused before any
device call, with the CPU path's exception.
"""
from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings

from impdist import kernels
from impdist.errors import KernelArgumentError, KernelTypeError
from impdist.kernels.numbers import scan_numbers
from tests.conftest import EXAMPLES
from tests.kernels import harness
from tests.kernels.harness import (DISTINCT_N, MINHASH, NGRAM_JACCARD, ROUGE, SELF_BLEU, SENTENCE_BLEU,
                                   check)
from tests.kernels.strategies import large_pairs


def _device_reached(*args, **kwargs):
    raise AssertionError("the CUDA path reached a device call with input the CPU path refused")


@pytest.fixture
def cuda_stand_in(monkeypatch):
    """The CUDA path up to its first device call, where no GPU is usable (see the module docstring)."""
    if harness.CUDA:
        return
    stand_in = SimpleNamespace(rouge_stats=_device_reached, bleu_stats=_device_reached, minhash=_device_reached)
    monkeypatch.setattr(harness, "CUDA", True)
    for name in ("lexical", "minhash"):  # import_module: impdist.kernels.minhash is also a function's name
        monkeypatch.setattr(importlib.import_module(f"impdist.kernels.{name}"), "cuda_module", lambda: stand_in)


bad_input = pytest.mark.usefixtures("cuda_stand_in")

PAIRWISE = [(ROUGE, ("cands", "refs")), (SENTENCE_BLEU, ("hyps", "refs")), (NGRAM_JACCARD, ("a", "b"))]
IDS = [k.name for k, _ in PAIRWISE]


@bad_input
@pytest.mark.parametrize("kernel,args", PAIRWISE, ids=IDS)
def test_mismatched_lengths_name_both_arguments(kernel, args):
    with pytest.raises(KernelArgumentError, match=rf"{args[0]} and {args[1]} must have the same length, got 2 and 1"):
        check(kernel, ["a", "b"], ["a"])


@bad_input
@pytest.mark.parametrize("kernel,args", PAIRWISE, ids=IDS)
def test_non_string_item_names_argument_and_index(kernel, args):
    with pytest.raises(KernelTypeError, match=rf"{args[1]}\[1\] must be str(, or a sequence of str|), got int"):
        check(kernel, ["a", "b"], ["a", 3])
    with pytest.raises(KernelTypeError, match=rf"{args[0]}\[0\] must be str, got bytes"):
        check(kernel, [b"a"], ["a"])


@bad_input
@pytest.mark.parametrize("kernel,args", [(ROUGE, ("just one sentence", ["a"])), (MINHASH, ("just one sentence",)),
                                         (SELF_BLEU, ("just one sentence",)), (DISTINCT_N, ("just one sentence",))],
                         ids=["rouge", "minhash", "self_bleu", "distinct_n"])
def test_a_bare_string_is_not_a_batch(kernel, args):
    with pytest.raises(KernelTypeError, match="got a single str"):
        check(kernel, *args)


@bad_input
def test_not_a_sequence():
    with pytest.raises(KernelTypeError, match="texts must be a sequence of str, got int"):
        check(MINHASH, 5)


@bad_input
def test_bleu_reference_lists():
    with pytest.raises(KernelArgumentError, match=r"refs\[1\] is empty"):
        check(SENTENCE_BLEU, ["a", "b"], ["a", []])
    with pytest.raises(KernelTypeError, match=r"refs\[0\]\[1\] must be str, got NoneType"):
        check(SENTENCE_BLEU, ["a"], [["a", None]])


@bad_input
@pytest.mark.parametrize("kernel,options,match", [
    (ROUGE, {"kind": "rougeLsum"}, "kind must be"),
    (ROUGE, {"threads": 0}, "threads must be a positive int"),
    (SENTENCE_BLEU, {"threads": 1.5}, "threads must be a positive int"),
    (MINHASH, {"shingle": "char"}, "shingle must be 'word' or a positive int"),
    (MINHASH, {"scheme": "md5"}, "scheme must be one of"),
    (MINHASH, {"num_perm": 0}, "num_perm must be an int"),
    (MINHASH, {"seed": -1}, r"seed must be an int in \[0, 2\*\*32\)"),
    (MINHASH, {"threads": -2}, "threads must be a positive int"),
    (SELF_BLEU, {"max_n": 0}, "max_n must be an int"),
    (DISTINCT_N, {"n": True}, "n must be an int"),
    (NGRAM_JACCARD, {"n": 33}, r"n must be an int in \[1, 32\]"),
])
def test_bad_options(kernel, options, match):
    batches = {ROUGE: (["a"], ["a"]), SENTENCE_BLEU: (["a"], ["a"]), NGRAM_JACCARD: (["a"], ["a"])}
    with pytest.raises(KernelArgumentError, match=match):
        check(kernel, *batches.get(kernel, (["a", "b"],)), **options)


def test_bad_device_and_the_errors_are_still_value_and_type_errors():
    with pytest.raises(KernelArgumentError, match="device must be one of"):
        kernels.rouge(["a"], ["a"], device="tpu")
    with pytest.raises(ValueError, match="kind must be"):  # code written against ValueError keeps working
        kernels.rouge(["a"], ["a"], kind="rougeX")
    with pytest.raises(TypeError, match="got a single str"):
        kernels.minhash("one text")


def test_lone_surrogates_do_not_crash():
    text = "abc \ud800 def"
    with pytest.warns(kernels.lexical.ImpdistWarning):
        assert check(ROUGE, [text], ["abc def"])[0, 2] == 1.0
    assert check(SENTENCE_BLEU, [text], [text])[0] == pytest.approx(100.0)
    assert check(NGRAM_JACCARD, [text], ["abc def"], n=1)[0] == pytest.approx(2 / 3)


def test_empty_batches_give_empty_arrays():
    assert check(ROUGE, [], []).shape == (0, 3)
    assert check(SENTENCE_BLEU, [], []).shape == (0,)
    for scheme in ("affine32", "legacy", "affine64"):
        assert check(MINHASH, [], num_perm=8, scheme=scheme).shape == (0, 8)
    assert check(NGRAM_JACCARD, [], [], n=2).shape == (0,)
    assert check(DISTINCT_N, [], n=2) == 0.0


def test_any_sequence_type_is_accepted():
    cands = ("the cat", "a dog")
    refs = np.array(["the cat", "the dog"], dtype=object)
    assert kernels.rouge(cands, refs)[:, 2].tolist() == [1.0, 0.5]
    assert kernels.rouge((s for s in cands), list(refs))[:, 2].tolist() == [1.0, 0.5]


# --- fuzz: large random Unicode (run against the AddressSanitizer build by `make asan-test`) ----
# No reference: the reference libraries take minutes on texts this long; the paths must agree.

_FUZZ = settings(max_examples=max(25, EXAMPLES // 3))  # each example is up to 8 texts of 100k chars


@_FUZZ
@given(large_pairs)
@pytest.mark.filterwarnings("ignore::impdist.ImpdistWarning")
def test_large_random_unicode_pairwise_kernels(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    for x, y in ((a, b), (a, a)):
        for kind in ("rouge1", "rouge2", "rougeL"):
            scores = check(ROUGE, x, y, kind=kind, reference=False)
            assert scores.shape == (len(x), 3) and np.all((scores >= 0) & (scores <= 1))
        bleu = check(SENTENCE_BLEU, x, [[r] for r in y], reference=False)
        assert bleu.shape == (len(x),) and np.all((bleu >= 0) & (bleu <= 100 + 1e-9))
        for n in (1, 3):
            jac = check(NGRAM_JACCARD, x, y, n=n, reference=False)
            assert jac.shape == (len(x),) and np.all((jac >= 0) & (jac <= 1))
    # a text against itself: every overlap is complete wherever it has a token at all
    same = check(ROUGE, a, a, reference=False)
    assert np.all((same[:, 2] == 1) | (same[:, 2] == 0))


@_FUZZ
@given(large_pairs)
def test_large_random_unicode_corpus_kernels(pairs):
    texts = [t for p in pairs for t in p]
    sig = check(MINHASH, texts, num_perm=16, reference=False)
    assert sig.shape == (len(texts), 16)
    assert check(MINHASH, texts, num_perm=16, shingle=3, reference=False).shape == (len(texts), 16)
    assert np.array_equal(kernels.minhash(texts, num_perm=16), sig)  # deterministic
    if len(texts) >= 2:
        sb = check(SELF_BLEU, texts, reference=False)
        assert sb.shape == (len(texts),) and np.all((sb >= 0) & (sb <= 100 + 1e-9))
    assert 0.0 <= check(DISTINCT_N, texts, n=2, reference=False) <= 1.0
    scanned, numerals, words = scan_numbers(texts)
    assert len(scanned) == len(numerals) == len(words) == len(texts)
