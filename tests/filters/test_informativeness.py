"""The summary choice: cos(e(src), e(summary)) - LENGTH_COST * compression, by hand."""
from __future__ import annotations

import numpy as np
import pytest

from impdist.filters.informativeness import LENGTH_COST, informativeness, most_informative

SRC = "A woman was injured by a falling tree in the Gresham neighborhood, police said."


class TableEmbedder:
    """Unit vectors at given angles to the source's, so every cosine is known; counts what it embeds."""

    def __init__(self, cosines: dict[str, float]) -> None:
        self.cosines, self.seen = cosines, []

    def embed(self, texts):
        self.seen += list(texts)
        rows = []
        for t in texts:
            c = self.cosines.get(t, 1.0)
            rows.append([c, np.sqrt(max(0.0, 1 - c * c))])
        return np.array(rows, np.float32)


def test_the_score_is_similarity_less_the_length_cost():
    assert informativeness(np.array([0.9, 0.8]), np.array([1.0, 0.5])).tolist() == pytest.approx(
        [0.9 - LENGTH_COST, 0.8 - LENGTH_COST * 0.5])


def test_the_most_meaning_for_its_length_wins_not_the_longest_or_the_shortest():
    short = "A woman was injured."                                  # compression 0.25
    middle = "A woman was injured by a falling tree."               # 0.48
    copy = SRC                                                      # 1.0
    emb = TableEmbedder({SRC: 1.0, short: 0.55, middle: 0.85, copy: 1.0})
    expected = {c: s - LENGTH_COST * len(c) / len(SRC) for c, s in [(short, 0.55), (middle, 0.85), (copy, 1.0)]}
    assert max(expected, key=expected.get) == middle  # the hand computation agrees with the choice below
    assert most_informative(emb, [SRC], [[short, copy, middle]]) == [middle]


def test_a_source_without_candidates_keeps_itself_and_each_text_is_embedded_once():
    other = "Shares fell for a third session."
    emb = TableEmbedder({})
    picked = most_informative(emb, [SRC, other, SRC], [["", "  "], [other], [SRC, "A woman was hurt."]])
    assert picked[0] == SRC and picked[1] == other
    assert sorted(emb.seen) == sorted({SRC, other, "A woman was hurt."})
    with pytest.raises(ValueError, match="one candidate list per source"):
        most_informative(emb, [SRC], [])
