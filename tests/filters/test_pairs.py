"""Pairing within context groups: which pairs, their orientation, ids and the per-group cap."""
from __future__ import annotations

import pytest

from impdist.filters.pairs import group_sentences, make_pairs

GROUP = {"context_id": "c7", "y_orig": "The cat sat on the mat.",
         "candidates": ["A cat was sitting on the mat.", "", "The cat sat on the mat.", "A cat sat.",
                        "A cat was sitting on the mat.", "On the mat sat the cat, quietly."]}


def test_sentences_are_y_orig_then_distinct_non_blank_candidates():
    assert group_sentences(GROUP) == ["The cat sat on the mat.", "A cat was sitting on the mat.", "A cat sat.",
                                      "On the mat sat the cat, quietly."]


def test_paraphrase_pairs_every_two_sentences_once_in_index_order():
    pairs = list(make_pairs(GROUP, "paraphrase", cap=None))
    assert [p["id"] for p in pairs] == ["c7:0-1", "c7:0-2", "c7:0-3", "c7:1-2", "c7:1-3", "c7:2-3"]
    first = pairs[0]
    assert (first["src"], first["tgt"]) == ("The cat sat on the mat.", "A cat was sitting on the mat.")
    assert first["task"] == "paraphrase" and first["context_id"] == "c7" and first["round"] == 0
    assert first["scores"] == {}


def test_summary_pairs_run_from_the_longer_sentence_to_the_shorter():
    for p in make_pairs(GROUP, "summary", cap=None):
        assert len(p["src"]) >= len(p["tgt"])
    ids = {p["id"] for p in make_pairs(GROUP, "summary", cap=None)}
    assert "c7:3-2" in ids and "c7:0-2" in ids  # "On the mat ..." is longer than "A cat sat."


def test_cap_is_deterministic_keeps_y_orig_pairs_first_and_depends_on_the_seed():
    group = {"context_id": "g", "y_orig": "s0", "candidates": [f"s{i}" for i in range(1, 10)]}
    a = [p["id"] for p in make_pairs(group, "paraphrase", cap=12, seed=3)]
    assert a == [p["id"] for p in make_pairs(group, "paraphrase", cap=12, seed=3)]
    assert len(a) == 12 and sum(i.startswith("g:0-") for i in a) == 9
    others = {tuple(p["id"] for p in make_pairs(group, "paraphrase", cap=12, seed=s)) for s in range(6)}
    assert len(others) > 1
    assert len(list(make_pairs(group, "paraphrase", cap=5))) == 5


def test_a_group_without_candidates_has_no_pairs_and_bad_arguments_raise():
    assert list(make_pairs({"context_id": 1, "y_orig": "x", "candidates": []}, "paraphrase")) == []
    with pytest.raises(ValueError, match="task"):
        list(make_pairs(GROUP, "translate"))
    with pytest.raises(ValueError, match="cap"):
        list(make_pairs(GROUP, "paraphrase", cap=0))


def test_source_pairing_pairs_y_orig_with_each_candidate_only():
    ids = [p["id"] for p in make_pairs(GROUP, "paraphrase", cap=None, pairing="source")]
    assert ids == ["c7:0-1", "c7:0-2", "c7:0-3"]
    with pytest.raises(ValueError, match="pairing"):
        list(make_pairs(GROUP, "paraphrase", pairing="all"))


def test_source_pairing_keeps_y_orig_as_the_source_of_a_summary():
    # the candidates are rewrites of y_orig: a longer one stays a (failing) summary of y_orig
    pairs = list(make_pairs(GROUP, "summary", cap=None, pairing="source"))
    assert [p["id"] for p in pairs] == ["c7:0-1", "c7:0-2", "c7:0-3"]
    assert all(p["src"] == GROUP["y_orig"] for p in pairs)
