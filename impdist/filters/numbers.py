"""The numbers a sentence states, normalised, so a pair can be checked for number consistency.

A teacher that paraphrases "rose 11 percent to $21.51" as "rose 12 percent" has changed a fact;
lexical scores barely notice, so the chain compares the numbers each side states.

What counts as a number, and its normal form (a plain decimal string, no exponent):
- Numerals: "1,000" and "1000" -> "1000"; "5.0" -> "5"; "3.50" -> "3.5"; "007" -> "7";
  ".5" -> "0.5"; Unicode digits ("１２") -> "12". A minus sign ("-" or U+2212) right before
  the digits, not after a word character, makes it negative: "-5" -> "-5", but "10-12" and
  "COVID-19" state 10, 12 and 19.
- A scale word after a numeral multiplies: "3.5 million" -> "3500000", "2 hundred" -> "200".
- Number words through the `number-parser` library (English): "two hundred and five" -> "205",
  "three million" -> "3000000", "one" -> "1". Spans of number words are found by the scan and
  parsed once each (cached), so texts without number words never reach the library.
- Ordinals state their cardinal: "21st", "10th", "twenty-first", "third" -> "21", "10", "21",
  "3" (so "June 10th" agrees with "June 10"). The bare words "first" and "second" are NOT
  numbers: in news they are mostly "at first", "a second opinion", "30 seconds".
- Units and signs around a value are dropped: "3%", "3 percent", "$3" -> "3"; "1990s" -> "1990".
- Not numbers: digits glued after letters ("mp3", "v2"), "dozen", "half", plurals
  ("thousands"), "minus five" (-> "5"). "1/2", "one-third", "10:30", "2003-05-01" state each
  of their parts.

The scan is the regex _SCAN below; impdist.kernels.scan_numbers runs the same grammar in C++
for ASCII texts (the regex reads the others, and tests hold the two equal), because Python's re
needs ~10 us a sentence, more than every other cheap filter together.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Sequence

import numpy as np

from impdist.filters.dedup import text_ids
from impdist.kernels.numbers import scan_numbers
from impdist.tasks import check_task

_UNITS = "one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = {"hundred": 2, "thousand": 3, "million": 6, "billion": 9, "trillion": 12}  # powers of ten
_ORDINALS = (
    "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth fiftieth "
    "sixtieth seventieth eightieth ninetieth hundredth thousandth millionth billionth"
).split()
# Words that may stand alone in a span; "first"/"second" only after a tens word ("twenty-first").
_WORDS = ["zero", *_UNITS, *_TEENS, *_TENS, *_SCALES, *_ORDINALS]
_VOCAB = frozenset(_WORDS)


def _alt(words: Sequence[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))  # longest first: "sixteen" before "six"


_WORD = rf"(?:(?:{_alt(_TENS)})[\s-]+(?:first|second|{_alt(_UNITS)}|{_alt(_ORDINALS)})|{_alt(_WORDS)})"
_NUMERAL = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"
# One left-to-right scan of the lower-cased text (IGNORECASE makes Python's re 3x slower here):
# a numeral with an optional scale word after it, or a span of number words joined by spaces,
# hyphens or "and" ("one hundred and five"). Texts without number words skip the word branch.
_NUMERAL_SCAN = rf"(?<![\w.])(?P<sign>[-\u2212])?(?P<num>{_NUMERAL})(?:\s+(?P<scale>{_alt(list(_SCALES))})\b)?"
_SCAN = re.compile(rf"{_NUMERAL_SCAN}|\b(?P<words>{_WORD}(?:(?:\s+and\s+|[\s-]+){_WORD})*)\b")
_SCAN_NUMERALS = re.compile(rf"{_NUMERAL_SCAN}(?P<words>(?!))?")  # a never-set "words" group
_DIGITS = re.compile(rf"(?<![\w.])(?:{_NUMERAL})")  # in number-parser's output
_ANY_DIGIT = re.compile(r"\d")
_LETTERS = re.compile(r"[a-z]+")


def _normal(numeral: str, negative: bool = False, scale: int = 0) -> str:
    """Plain decimal string of ``numeral * 10**scale``: no separators, exponent, leading or
    trailing zeros; "-0" is "0". String arithmetic, so any length stays exact."""
    whole, _, frac = numeral.replace(",", "").partition(".")
    digits = whole + frac
    if not digits.isascii():  # \d matched other scripts' decimal digits ("１２")
        digits = "".join(str(unicodedata.decimal(c)) for c in digits)
    point = len(whole) + scale
    digits = digits.ljust(point, "0")
    whole, frac = digits[:point].lstrip("0") or "0", digits[point:].rstrip("0")
    text = f"{whole}.{frac}" if frac else whole
    return f"-{text}" if negative and text != "0" else text


@lru_cache(maxsize=8192)
def _parse_words(span: str) -> tuple[str, ...]:
    """The numbers a span of number words states, through number-parser (cached: spans repeat)."""
    from number_parser import parse

    return tuple(_normal(m.group()) for m in _DIGITS.finditer(parse(span, language="en")))


def _regex_scan(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The reference reading of a text: its normalised numerals and its number-word spans.
    impdist.kernels.scan_numbers reads ASCII texts the same way, in C++; this reads the rest."""
    low = text.lower()
    # Cheap pre-checks: most sentences have no digit, and most have no number word.
    has_words = not _VOCAB.isdisjoint(_LETTERS.findall(low))
    if not has_words and _ANY_DIGIT.search(low) is None:
        return (), ()
    numerals, spans = [], []
    for m in (_SCAN if has_words else _SCAN_NUMERALS).finditer(low):
        words, scale = m.group("words"), m.group("scale")
        if words is not None:
            spans.append(words)
        else:
            numerals.append(_normal(m.group("num"), bool(m.group("sign")), _SCALES[scale] if scale else 0))
    return tuple(numerals), tuple(spans)


def _numbers(texts: Sequence[str], threads: int | None = None) -> list[tuple[str, ...]]:
    """The numbers each text states (numerals first, then number words; order is not meaningful)."""
    scanned, numerals, spans = scan_numbers(texts, threads)
    out = []
    for text, ok, nums, words in zip(texts, scanned.tolist(), numerals, spans):
        if not ok:
            nums, words = _regex_scan(text)
        out.append(nums + tuple(v for span in words for v in _parse_words(span)) if words else nums)
    return out


def numbers_in(text: str) -> Counter[str]:
    """The numbers `text` states, normalised as the module docstring describes, with counts."""
    return Counter(_numbers([text])[0])


def numbers_agree(
    srcs: Sequence[str], tgts: Sequence[str], task: str, *, threads: int | None = None
) -> np.ndarray:
    """bool per pair: paraphrase -> both sides state the same set of numbers; summary -> every
    number the target states is one the source states.

    Sets, not counts: restating a number, or folding two mentions into one, keeps the facts.
    Each distinct text is read once per call, however many pairs share it.
    """
    if len(srcs) != len(tgts):
        raise ValueError(f"srcs and tgts differ in length: {len(srcs)} != {len(tgts)}")
    distinct, ids = text_ids([*srcs, *tgts])
    return agree_by_id(distinct, ids[: len(srcs)], ids[len(srcs) :], task, threads=threads)


def agree_by_id(
    texts: Sequence[str], src_ids: np.ndarray, tgt_ids: np.ndarray, task: str, *, threads: int | None = None
) -> np.ndarray:
    """numbers_agree of the pairs (texts[src_ids[i]], texts[tgt_ids[i]]), for callers that have
    interned their texts already (dedup.text_ids)."""
    check_task(task)
    # Each distinct number set gets an id; id 0 is the empty set.
    set_ids: dict[frozenset[str], int] = {frozenset(): 0}
    text_set = np.fromiter((set_ids.setdefault(frozenset(nums), len(set_ids)) if nums else 0
                            for nums in _numbers(texts, threads)), np.int64, len(texts))
    src_set, tgt_set = text_set[src_ids], text_set[tgt_ids]
    agree = src_set == tgt_set
    if task == "summary":
        agree |= tgt_set == 0
        by_id = list(set_ids)
        for i in np.flatnonzero(~agree):
            agree[i] = by_id[tgt_set[i]] <= by_id[src_set[i]]
    return agree
