"""The C++ Porter stemmer (csrc/text/porter.cpp) must equal NLTK's PorterStemmer exactly.

rouge-score stems with nltk.stem.porter.PorterStemmer() (mode NLTK_EXTENSIONS); the native
kernel replaces it, so any difference would change ROUGE scores. Inputs are rouge-score tokens:
lowercase [a-z0-9]*, of any length.
"""

import itertools
import re
import string

from hypothesis import given
from hypothesis import strategies as st

from impdist.kernels import _core
from tests.conftest import data_file
from tests.kernels.harness import PORTER_STEM, check

# Suffixes that drive every rule of NLTK's steps 1a-5b, including its NLTK_EXTENSIONS rules
# (4-letter "ies"/"ied", "alli" re-run, "fulli", "logi", "bli"), and the 'y' forms of step 1c.
SUFFIXES = (
    "ies", "ied", "ing", "ed", "ly", "ational", "tional", "ization", "fulness", "iveness",
    "ousness", "alli", "fulli", "logi", "bli", "abli", "eli", "entli", "ousli", "enci", "anci",
    "izer", "ator", "alism", "aliti", "iviti", "biliti", "eed", "sses", "ss", "s", "ness",
    "ement", "ment", "ent", "ion", "sion", "tion", "ous", "ive", "ize", "er", "y", "e", "ll",
    "icate", "ative", "alize", "iciti", "ical", "ful", "al", "ance", "ence", "ic", "able",
    "ible", "ant", "ou", "ism", "ate", "iti", "at", "bl", "iz", "yy", "ey", "ay", "oy", "ying",
    "yed", "ings", "eds", "ation", "ations", "alized", "fully", "ically",
)  # fmt: skip
IRREGULAR = [
    "sky", "skies", "dying", "lying", "tying", "news", "inning", "innings", "outing", "outings",
    "canning", "cannings", "howe", "proceed", "exceed", "succeed",
]  # fmt: skip


# Pieces appended to a random stem: the suffixes, plus doubled consonants for step 1b's *d rule.
DOUBLES = tuple(c * 2 for c in "bcdfglmnprstvwxyz")
PIECES = SUFFIXES + DOUBLES
# Stems are mostly letters; one alternative mixes in digits (which Porter treats as consonants).
STEMS = st.one_of(
    st.text(alphabet=string.ascii_lowercase, max_size=8),
    st.text(alphabet="aeiouylstw", max_size=8),
    st.text(alphabet=string.ascii_lowercase + string.digits, max_size=8),
)
OPTIONAL_PIECE = st.sampled_from(("",) + PIECES)
STEP1B_ENDINGS = ("ed", "ing", "eds", "ings")

# Flat strategies (no @composite), since Hypothesis' per-draw cost dominates these tests.
WORDS = st.one_of(
    st.text(alphabet=string.ascii_lowercase, max_size=25),
    st.tuples(STEMS, st.sampled_from(PIECES), OPTIONAL_PIECE, OPTIONAL_PIECE).map("".join),
    # step 1b's second half: -ed/-ing after a double consonant, at/bl/iz, or a (c)vc stem
    st.tuples(
        STEMS, st.sampled_from(DOUBLES + ("at", "bl", "abl", "ibl", "iz", "")), st.sampled_from(STEP1B_ENDINGS)
    ).map("".join),
    # short words over a tiny alphabet: dense coverage of y / vowel / consonant patterns
    st.text(alphabet="aeysbldt1", max_size=7),
)


def test_mrpc_tokens():
    path = data_file("mrpc_dev.jsonl")
    tokens = sorted(set(re.findall(r"[a-z0-9]+", path.read_text(encoding="utf-8").lower())))
    assert len(tokens) > 1000
    check(PORTER_STEM, tokens, tag="mrpc")


@given(st.lists(WORDS, min_size=40, max_size=60))
def test_random_words(words):
    check(PORTER_STEM, words)


def test_edge_cases():
    words = [
        "", "a", "y", "s", "e", "1", "ab", "yy", "ys", "ow", "ies", "ied", "eed", "ing", "ed",
        "sss", "ss", "dies", "died", "ties", "tied", "lies", "flies", "spied", "feed", "agreed",
        "bcdfg", "rhythms", "crwth", "nth", "xyz", "0", "12", "123", "9999999", "2020s", "1990s",
        "owed", "owing", "oxed", "ayed", "yyyyed", "yyyying", "generalizations", "controll",
        "geologi", "radicalli", "rationalli", "hopefulli", "conditional", "happy", "enjoy",
        # the examples of Porter's paper, as quoted in NLTK's docstrings
        "caresses", "ponies", "caress", "cats", "plastered", "bled", "motoring", "sing",
        "conflated", "troubled", "sized", "hopping", "tanned", "falling", "hissing", "fizzed",
        "failing", "filing", "relational", "rational", "valenci", "hesitanci", "digitizer",
        "conformabli", "differentli", "vileli", "analogousli", "vietnamization", "predication",
        "operator", "feudalism", "decisiveness", "hopefulness", "callousness", "formaliti",
        "sensitiviti", "sensibiliti", "triplicate", "formative", "formalize", "electriciti",
        "electrical", "hopeful", "goodness", "revival", "allowance", "inference", "airliner",
        "gyroscopic", "adjustable", "defensible", "irritant", "replacement", "adjustment",
        "dependent", "adoption", "homologou", "communism", "activate", "angulariti",
        "homologous", "effective", "bowdlerize", "probate", "rate", "cease", "roll",
        "comfortabled", "disabled", "enabled", "sensibled",
    ]  # fmt: skip
    words += IRREGULAR + [w + "s" for w in IRREGULAR] + [w[:-1] for w in IRREGULAR]
    words += ["y" * k for k in range(1, 12)] + ["y" * 50]
    # every string of length 1-2 over [a-z0-9], and of length 3 over a representative alphabet
    alphabet = string.ascii_lowercase + string.digits
    for k in (1, 2):
        words += ["".join(t) for t in itertools.product(alphabet, repeat=k)]
    words += ["".join(t) for t in itertools.product("aeiyosldzt7w", repeat=3)]
    check(PORTER_STEM, words, tag="edge")


def test_long_words():
    words = [
        "y" * 5000, "a" * 5000, "b" * 5000, "ab" * 2500, "ay" * 2500, "yb" * 2500, "1" * 5000,
        "e" * 5000, "s" * 5000, "l" * 5000, "ll" * 2500 + "ing", "ational" * 700,
        "x" * 4997 + "ies", "y" * 4997 + "ied", "generalizations" * 300, "yyy" * 2000 + "ed",
    ]  # fmt: skip
    check(PORTER_STEM, words, tag="long")


def test_empty_batch():
    assert _core.porter_stem([]) == []
