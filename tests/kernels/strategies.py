"""Hypothesis strategies for adversarial text: tokenizer edge cases, Unicode, shared words."""
from __future__ import annotations

from hypothesis import strategies as st

# Words chosen to hit every branch of the rouge-score and 13a tokenizers: case, digits with
# periods/commas/dashes, every ASCII punctuation, HTML entities, <skipped>, non-ASCII letters,
# the two code points str.lower() maps to ASCII (U+0130, U+212A), and Unicode whitespace.
VOCAB = [
    "the", "The", "THE", "cat", "cats", "running", "runs", "ran", "happily", "happiness",
    "generalization", "sky", "skies", "dying", "news", "a", "an", "of", "to", "and",
    "1", "2003", "1.5", "3,000", "10-12", "4-", "-5", "a.b", "U.S.", "e.g.", "etc.", "...",
    ".", ",", "-", "--", "'", "'s", "n't", '"', "(", ")", "[", "]", "{", "}", "$", "%", "&",
    "&amp;", "&quot;", "&lt;", "&gt;", "&amp;lt;", "<skipped>", "<skip<skipped>ped>", "-\n",
    "\n", "@", "#", "/", "\\", "^", "_", "`", "|", "~", ";", ":", "?", "!", "*", "+", "=", "<", ">",
    "café", "naïve", "Zürich", "İstanbul", "\u212aelvin", "ﬁne", "東京", "😀", "—", "“quoted”",
    "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "\t", "  ",
]

word = st.sampled_from(VOCAB)
sentence = st.lists(word, max_size=30).map(lambda ws: " ".join(ws))
glued = st.lists(word, max_size=20).map(lambda ws: "".join(ws))  # no spaces: punctuation clusters
no_surrogates = st.characters(exclude_categories=("Cs",))
raw_text = st.text(alphabet=no_surrogates, max_size=80)
ascii_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=80)
any_text = st.one_of(sentence, glued, raw_text, ascii_text)


@st.composite
def related(draw, base=any_text):
    """A text and a second one that shares words with it (so overlaps are not all zero)."""
    a = draw(base)
    words = a.split()
    if words and draw(st.booleans()):
        keep = draw(st.lists(st.sampled_from(words), max_size=len(words) + 3))
        extra = draw(st.lists(word, max_size=5))
        mixed = keep + extra
        b = " ".join(draw(st.permutations(mixed))) if mixed else ""
    else:
        b = draw(base)
    return a, b


pairs = st.lists(related(), min_size=8, max_size=40)  # batches: many pairs per example


@st.composite
def multi_ref_items(draw, max_refs: int = 5):
    """A hypothesis and 1..max_refs references, the first sharing words with it."""
    hyp, first = draw(related())
    others = draw(st.lists(any_text, max_size=max_refs - 1))
    return hyp, [first, *others]


# Large random Unicode: code points drawn with numpy from a mix of ranges (ASCII, Latin,
# combining marks, CJK, emoji and the rest of the astral planes, C0/C1 controls, Unicode spaces
# and punctuation, lone surrogates), so one example is a text of up to `max_len` characters that a
# fixed vocabulary would never produce. Hypothesis picks the seed, length, ranges and space rate.
UNICODE_RANGES = [
    (0x20, 0x7E), (0x00, 0x1F), (0x7F, 0x9F), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x6FF),
    (0x2000, 0x206F), (0x3000, 0x303F), (0x4E00, 0x9FFF), (0xD800, 0xDFFF), (0xFE00, 0xFFFF),
    (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF),
]


@st.composite
def large_unicode(draw, max_len: int = 100_000) -> str:
    import numpy as np

    seed = draw(st.integers(0, 2**32 - 1))
    length = draw(st.one_of(st.integers(0, 64), st.integers(max_len // 10, max_len)))
    chosen = draw(st.lists(st.sampled_from(range(len(UNICODE_RANGES))), min_size=1, max_size=4, unique=True))
    space_rate = draw(st.sampled_from([0.0, 0.02, 0.2, 0.5]))
    rng = np.random.default_rng(seed)
    lo = np.array([UNICODE_RANGES[i][0] for i in chosen], dtype=np.uint32)
    hi = np.array([UNICODE_RANGES[i][1] for i in chosen], dtype=np.uint32)
    which = rng.integers(0, len(chosen), length)
    cps = lo[which] + (rng.random(length) * (hi[which] - lo[which] + 1)).astype(np.uint32)
    cps[rng.random(length) < space_rate] = 0x20
    return cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


large_pairs = st.lists(st.tuples(large_unicode(), large_unicode()), min_size=1, max_size=4)
