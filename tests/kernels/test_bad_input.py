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


# --- fuzz: large random Unicode (run against the AddressSanitizer build by `make asan-test`) ----

from hypothesis import given, settings  # noqa: E402

from impdist.kernels.numbers import scan_numbers  # noqa: E402
from tests.conftest import EXAMPLES  # noqa: E402
from tests.kernels.strategies import large_pairs  # noqa: E402

_FUZZ = settings(max_examples=max(25, EXAMPLES // 3))  # each example is up to 8 texts of 100k chars


@_FUZZ
@given(large_pairs)
def test_large_random_unicode_pairwise_kernels(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    for x, y in ((a, b), (a, a)):
        for kind in ("rouge1", "rouge2", "rougeL"):
            scores = kernels.rouge(x, y, kind=kind)
            assert scores.shape == (len(x), 3) and np.all((scores >= 0) & (scores <= 1))
        bleu = kernels.sentence_bleu(x, [[r] for r in y])
        assert bleu.shape == (len(x),) and np.all((bleu >= 0) & (bleu <= 100 + 1e-9))
        for n in (1, 3):
            jac = kernels.ngram_jaccard(x, y, n)
            assert jac.shape == (len(x),) and np.all((jac >= 0) & (jac <= 1))
    # a text against itself: every overlap is complete wherever it has a token at all
    same = kernels.rouge(a, a)
    assert np.all((same[:, 2] == 1) | (same[:, 2] == 0))


@_FUZZ
@given(large_pairs)
def test_large_random_unicode_corpus_kernels(pairs):
    texts = [t for p in pairs for t in p]
    sig = kernels.minhash(texts, num_perm=16)
    assert sig.shape == (len(texts), 16)
    assert kernels.minhash(texts, num_perm=16, shingle=3).shape == (len(texts), 16)
    assert np.array_equal(kernels.minhash(texts, num_perm=16), sig)  # deterministic
    if len(texts) >= 2:
        sb = kernels.self_bleu(texts)
        assert sb.shape == (len(texts),) and np.all((sb >= 0) & (sb <= 100 + 1e-9))
    assert 0.0 <= kernels.distinct_n(texts, 2) <= 1.0
    scanned, numerals, words = scan_numbers(texts)
    assert len(scanned) == len(numerals) == len(words) == len(texts)
