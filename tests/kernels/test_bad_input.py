"""Bad input gets a clear error naming the argument; odd but valid input gets correct numbers."""
from __future__ import annotations

import numpy as np
import pytest

from impdist import kernels

PAIRWISE = [
    ("rouge", lambda a, b: kernels.rouge(a, b), ("cands", "refs")),
    ("sentence_bleu", lambda a, b: kernels.sentence_bleu(a, b), ("hyps", "refs")),
    ("ngram_jaccard", lambda a, b: kernels.ngram_jaccard(a, b, 2), ("a", "b")),
]


@pytest.mark.parametrize("name,fn,args", PAIRWISE, ids=[p[0] for p in PAIRWISE])
def test_mismatched_lengths_name_both_arguments(name, fn, args):
    with pytest.raises(ValueError, match=rf"{args[0]} and {args[1]} must have the same length, got 2 and 1"):
        fn(["a", "b"], ["a"])


@pytest.mark.parametrize("name,fn,args", PAIRWISE, ids=[p[0] for p in PAIRWISE])
def test_non_string_item_names_argument_and_index(name, fn, args):
    with pytest.raises(TypeError, match=rf"{args[1]}\[1\] must be str(, or a sequence of str|), got int"):
        fn(["a", "b"], ["a", 3])
    with pytest.raises(TypeError, match=rf"{args[0]}\[0\] must be str, got bytes"):
        fn([b"a"], ["a"])


@pytest.mark.parametrize("fn", [
    lambda x: kernels.rouge(x, ["a"]),
    lambda x: kernels.minhash(x),
    lambda x: kernels.self_bleu(x),
    lambda x: kernels.distinct_n(x),
])
def test_a_bare_string_is_not_a_batch(fn):
    with pytest.raises(TypeError, match="got a single str"):
        fn("just one sentence")


def test_not_a_sequence():
    with pytest.raises(TypeError, match="texts must be a sequence of str, got int"):
        kernels.minhash(5)


def test_bleu_reference_lists():
    with pytest.raises(ValueError, match=r"refs\[1\] is empty"):
        kernels.sentence_bleu(["a", "b"], ["a", []])
    with pytest.raises(TypeError, match=r"refs\[0\]\[1\] must be str, got NoneType"):
        kernels.sentence_bleu(["a"], [["a", None]])


@pytest.mark.parametrize("call,match", [
    (lambda: kernels.rouge(["a"], ["a"], kind="rougeLsum"), "kind must be"),
    (lambda: kernels.rouge(["a"], ["a"], threads=0), "threads must be a positive int"),
    (lambda: kernels.rouge(["a"], ["a"], device="tpu"), "device must be one of"),
    (lambda: kernels.minhash(["a"], shingle="char"), "shingle must be 'word' or a positive int"),
    (lambda: kernels.minhash(["a"], scheme="md5"), "scheme must be one of"),
    (lambda: kernels.minhash(["a"], num_perm=0), "num_perm must be an int"),
    (lambda: kernels.self_bleu(["a", "b"], max_n=0), "max_n must be an int"),
    (lambda: kernels.distinct_n(["a"], n=True), "n must be an int"),
])
def test_bad_options(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_lone_surrogates_do_not_crash():
    text = "abc \ud800 def"
    assert kernels.rouge([text], ["abc def"])[0, 2] == 1.0
    assert kernels.sentence_bleu([text], [text])[0] == pytest.approx(100.0)
    assert kernels.ngram_jaccard([text], ["abc def"], 1)[0] == pytest.approx(2 / 3)


def test_empty_batches_give_empty_arrays():
    assert kernels.rouge([], []).shape == (0, 3)
    assert kernels.sentence_bleu([], []).shape == (0,)
    assert kernels.minhash([], num_perm=8).shape == (0, 8)
    assert kernels.ngram_jaccard([], [], 2).shape == (0,)
    assert kernels.distinct_n([], 2) == 0.0


def test_any_sequence_type_is_accepted():
    cands = ("the cat", "a dog")
    refs = np.array(["the cat", "the dog"], dtype=object)
    assert kernels.rouge(cands, refs)[:, 2].tolist() == [1.0, 0.5]
    assert kernels.rouge((s for s in cands), list(refs))[:, 2].tolist() == [1.0, 0.5]
