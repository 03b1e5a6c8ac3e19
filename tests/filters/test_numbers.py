"""numbers_in on golden sentences, the C++ scan against the regex reference, numbers_agree."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from impdist.filters import numbers
from impdist.filters.numbers import _regex_scan, numbers_agree, numbers_in
from impdist.kernels.numbers import scan_numbers
from tests.conftest import record
from tests.kernels.strategies import any_text, ascii_text, sentence

GOLDEN = [
    ("", {}),
    ("No numbers here.", {}),
    ("1,000 people and 1000 more", {"1000": 2}),
    ("It cost 5.0 or 5 dollars, or 3.50", {"5": 2, "3.5": 1}),
    ("007 and .5", {"7": 1, "0.5": 1}),
    ("1,000,000.00", {"1000000": 1}),
    ("numbers 1,2,3", {"1": 1, "2": 1, "3": 1}),
    ("1,0000", {"1": 1, "0": 1}),  # not a thousands group: "1" and "0000"
    ("two people", {"2": 1}),
    ("two hundred and five people", {"205": 1}),
    ("Two Hundred", {"200": 1}),
    ("a hundred", {"100": 1}),
    ("3.5 million and three million", {"3500000": 1, "3000000": 1}),
    ("$1.5 billion", {"1500000000": 1}),
    ("2 hundred", {"200": 1}),
    ("in 1999 and 2003", {"1999": 1, "2003": 1}),
    ("the 1990s", {"1990": 1}),
    ("-5 degrees, \u22124 and -0.0", {"-5": 1, "-4": 1, "0": 1}),
    ("pages 10-12, COVID-19", {"10": 1, "12": 1, "19": 1}),
    ("3% and 3 percent and $3", {"3": 3}),
    ("the 21st and twenty-first century", {"21": 2}),
    ("June 10th, the third and 3rd", {"10": 1, "3": 2}),
    ("at first, a second opinion", {}),
    ("twenty first, one second later", {"21": 1, "1": 1}),
    ("between one and two", {"1": 1, "2": 1}),
    ("seven-year-old", {"7": 1}),
    ("one-third", {"1": 1, "3": 1}),
    ("someone, tenant, oneself, mp3, v2", {}),
    ("thousands of dozens, half", {}),
    ("10:30 on 2003-05-01, 1/2", {"10": 1, "30": 1, "2003": 1, "5": 1, "1": 2, "2": 1}),
    ("1.5.3", {"1.5": 1}),
    ("café costs 3.5 million", {"3500000": 1}),  # not ASCII: the regex path
    ("\uff11\uff12 and \u0661\u0662", {"12": 2}),  # other scripts' digits
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_golden(text, expected):
    assert numbers_in(text) == Counter(expected)


def test_number_parser_only_sees_number_words():
    numbers._parse_words.cache_clear()
    numbers_in("The stock rose $2.11, or about 11 percent, to close at $21.51.")
    assert numbers._parse_words.cache_info().misses == 0
    assert numbers_in("once upon a time") == Counter()  # number-parser alone reads Spanish "once" = 11


def test_number_parser_is_english_and_cached():
    numbers._parse_words.cache_clear()
    for _ in range(3):
        assert numbers_in("eleven and eleven") == Counter({"11": 2})
    assert numbers._parse_words.cache_info().misses == 1


# --- The C++ scan of ASCII texts is the regex, exactly -------------------------------------------

NUMBERISH = ["1", "12", "123", "1234", "1,000", "1,0000", "12,345,678", "3.5", ".5", "5.", "-", "-5",
             "--7", "007", "1.5.3", ",", ".", "%", "$", "_", "x", "mp3", "a1", "one", "Two", "THREE", "twenty",
             "twenty-first", "first", "second", "third", "hundred", "Million", "billion", "and", "AND",
             "andy", "sixty-six", "sixtysix", "seventeenth", "zero", "ten", "tenant", " ", "  ", "-", "\t", "\n",
             "\x1c", "\x1f", "\x0b"]
numberish = st.lists(st.sampled_from(NUMBERISH), max_size=25).map("".join)
spaced = st.lists(st.sampled_from(NUMBERISH), max_size=25).map(" ".join)


def assert_scan_matches_regex(texts):
    scanned, numerals, spans = scan_numbers(texts)
    for text, ok, nums, words in zip(texts, scanned, numerals, spans):
        assert ok == text.isascii()
        if ok:
            assert (nums, words) == _regex_scan(text), text
    record("numbers:scan", len(texts))


@given(st.lists(st.one_of(numberish, spaced, ascii_text, sentence, any_text), min_size=1, max_size=20))
def test_scan_matches_regex(texts):
    assert_scan_matches_regex(texts)


def test_scan_matches_regex_on_mrpc(mrpc):
    texts = [r["src"] for r in mrpc] + [r["refs"][0] for r in mrpc]
    assert_scan_matches_regex(texts)
    assert sum(t.isascii() for t in texts) > 0.9 * len(texts)


@given(st.one_of(numberish, spaced, any_text))
def test_numbers_in_never_fails(text):
    for value in numbers_in(text):
        assert value == "0" or not value.lstrip("-").startswith("0") or value.lstrip("-").startswith("0.")
        assert value.replace(".", "", 1).lstrip("-").isdigit()


# --- numbers_agree -------------------------------------------------------------------------------

def reference_agree(srcs, tgts, task):
    out = []
    for s, t in zip(srcs, tgts):
        ns, nt = set(numbers_in(s)), set(numbers_in(t))
        out.append(ns == nt if task == "paraphrase" else nt <= ns)
    return np.array(out, dtype=bool)


@given(st.lists(st.tuples(st.one_of(numberish, spaced, sentence), st.one_of(numberish, spaced, sentence)),
                max_size=30), st.sampled_from(["paraphrase", "summary"]))
def test_agree_matches_per_pair_reference(pairs, task):
    srcs = [s for s, _ in pairs] + [s for s, _ in pairs[:3]]  # repeated texts
    tgts = [t for _, t in pairs] + [t for _, t in pairs[:3]]
    assert np.array_equal(numbers_agree(srcs, tgts, task), reference_agree(srcs, tgts, task))


def test_agree_semantics():
    srcs = ["rose 11 percent to $21.51", "two men", "5 and 5", "in 2003, 4 people", "no number"]
    tgts = ["rose eleven percent to 21.51 dollars", "2 women and 3 men", "5", "4 people", "1 thing"]
    assert numbers_agree(srcs, tgts, "paraphrase").tolist() == [True, False, True, False, False]
    assert numbers_agree(srcs, tgts, "summary").tolist() == [True, False, True, True, False]


def test_agree_edges():
    assert numbers_agree([], [], "summary").shape == (0,)
    with pytest.raises(ValueError, match="differ in length"):
        numbers_agree(["a"], [], "paraphrase")
    with pytest.raises(ValueError, match="task"):
        numbers_agree(["a"], ["b"], "translation")
