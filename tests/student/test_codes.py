"""Control codes and the prompt format: buckets, requests, the syntax sketch, training codes."""
from __future__ import annotations

import random

import pytest

from impdist.errors import UnknownTaskError
from impdist.student.codes import Buckets, Controls, PromptFormat, syntax_sketch
from impdist.student.errors import StudentError


def test_bucket_labels_cover_the_line_and_edges_go_up():
    b = Buckets("length", (0.5, 1.0))
    assert b.labels() == ("<0.50", "0.50-1.00", ">1.00")
    assert [b.label(v) for v in (0.1, 0.5, 0.99, 1.0, 7)] == ["<0.50", "0.50-1.00", "0.50-1.00", ">1.00", ">1.00"]


def test_requests_take_numbers_labels_or_nothing():
    fmt = PromptFormat()
    c = fmt.request("summary", compression=0.6, diversity="0.45-0.60", exemplar="The man said that it rained.")
    assert c == Controls("summary", "0.50-0.75", "0.45-0.60", "the _ _ that it _ .")
    assert fmt.request("paraphrase") == Controls("paraphrase")
    assert fmt.request("paraphrase", diversity="0.7").diversity == ">0.60"


@pytest.mark.parametrize("kwargs, error, words", [
    ({"diversity": "lots"}, StudentError, "diversity codes"), ({"exemplar": "  "}, StudentError, "blank"),
    ({"task": "translate"}, UnknownTaskError, "task must be one of paraphrase, summary, got 'translate'")])
def test_bad_requests_say_what_is_allowed(kwargs, error, words):
    task = kwargs.pop("task", "paraphrase")
    with pytest.raises(error, match=words):
        PromptFormat().request(task, **kwargs)


def test_prompt_lists_only_the_codes_given():
    fmt = PromptFormat()
    assert fmt.prompt("A  b.", Controls()) == "<task: paraphrase>\nInput: A b.\nOutput:"
    full = fmt.prompt("x", Controls("summary", "<0.50", ">0.60", "the _ ."))
    assert full.startswith("<task: summary | length: <0.50 | diversity: >0.60 | syntax: the _ .>\n")


def test_format_round_trips_and_refuses_other_versions():
    fmt = PromptFormat(length_edges=(0.4, 0.8))
    assert PromptFormat.from_json(fmt.to_json()) == fmt
    with pytest.raises(StudentError, match="prompt format"):
        PromptFormat.from_json({**fmt.to_json(), "version": "other/9"})
    with pytest.raises(ValueError, match="increasing"):
        PromptFormat(diversity_edges=(0.5, 0.2))


def test_syntax_sketch_keeps_function_words_and_punctuation():
    assert syntax_sketch("Shares of Acme fell 5% on Tuesday, they said.") == "_ of _ _ _ % on _ , they _ ."


def test_training_codes_follow_the_pair_and_drop_out_reproducibly():
    fmt = PromptFormat()
    codes = [fmt.training_controls("paraphrase", "b a", 0.95, 0.5, random.Random(i), code_dropout=0.3,
                                   exemplar_rate=0.25) for i in range(400)]
    assert {c.length for c in codes} == {"0.90-1.10", None} and {c.diversity for c in codes} == {"0.45-0.60", None}
    assert 0.2 < sum(c.length is None for c in codes) / 400 < 0.4
    assert 0.15 < sum(c.exemplar is not None for c in codes) / 400 < 0.35
    again = [fmt.training_controls("paraphrase", "b a", 0.95, 0.5, random.Random(i), code_dropout=0.3,
                                   exemplar_rate=0.25) for i in range(400)]
    assert codes == again
