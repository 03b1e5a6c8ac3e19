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
