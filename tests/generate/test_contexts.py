"""Stage-0 building blocks: dateline prefixes, sentence splitting, context rows."""
from __future__ import annotations

import re
from collections import Counter

from impdist.generate.prefixes import _vocabulary, news_prefix
from impdist.generate.sentences import first_sentence_done, is_full_sentence, split_sentences
from impdist.generate.stages import contexts_from_text


def test_prefix_templates_in_the_papers_proportions():
    kinds = Counter()
    places, media = _vocabulary()
    countries = {c for _, c in places}
    city_heads = {f"{city.upper()}, {country}" for city, country in places}
    for i in range(8000):
        p = news_prefix(seed=3, index=i)
        head, outlet = re.fullmatch(r"(.*?) ?\((.*)\) --", p).groups()
        assert outlet in media
        if not head:
            kinds["media"] += 1
        elif head in city_heads:
            kinds["city"] += 1
        else:
            assert head in countries
            kinds["country"] += 1
    assert abs(kinds["media"] / 8000 - 0.5) < 0.03
    assert abs(kinds["country"] / 8000 - 0.25) < 0.03
    assert abs(kinds["city"] / 8000 - 0.25) < 0.03


def test_prefix_depends_only_on_seed_and_index():
    assert news_prefix(1, 5) == news_prefix(1, 5)
    assert [news_prefix(1, i) for i in range(20)] != [news_prefix(2, i) for i in range(20)]


def test_sentences_and_the_full_sentence_rule():
    text = "The U.S. economy grew 2.5% last year. Officials said so! Why? It was cold"
    assert split_sentences(text) == ["The U.S. economy grew 2.5% last year.", "Officials said so!", "Why?",
                                     "It was cold"]
    assert is_full_sentence("Officials said so!")
    assert not is_full_sentence("Why?")            # fewer than 3 words
    assert not is_full_sentence("It was cold")     # no final punctuation


def test_first_sentence_done():
    assert not first_sentence_done(" The minister said")
    assert first_sentence_done(" The minister said the talks failed.")
    assert first_sentence_done(' He said "no." Then they')  # the splitter needs the next sentence here
    assert first_sentence_done(" The talks failed. Then")


def test_contexts_carry_the_prefix_and_preceding_sentences():
    rows = contexts_from_text("Rain fell all day. Roads were closed. Ok. Schools opened late on Monday.",
                              prefix="(AP) --", doc_id="p0", source="news-prefix")
    assert [r["y_orig"] for r in rows] == ["Rain fell all day.", "Roads were closed.",
                                           "Schools opened late on Monday."]
    assert rows[0]["context"] == "(AP) --"
    assert rows[2]["context"] == "(AP) -- Rain fell all day. Roads were closed. Ok."
    corpus = contexts_from_text("First one is here. Second one is here.", prefix="", doc_id="d0", source="corpus")
    assert [(r["context"], r["y_orig"]) for r in corpus] == [("First one is here.", "Second one is here.")]
