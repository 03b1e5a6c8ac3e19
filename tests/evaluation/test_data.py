"""Evaluation sets: the named real sets, JSONL and TSV files, and bad input naming file and line."""
from __future__ import annotations

import pytest

from impdist.errors import ImpdistError, MalformedInputError
from impdist.evaluation.data import NAMED, load_eval_set


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_sets_load_from_the_shipped_data(name):
    s = load_eval_set(name, limit=5)
    assert len(s) == 5 and s.task == NAMED[name][1] and all(s.srcs) and all(r and all(r) for r in s.refs)


def test_jsonl_and_tsv_files(tmp_path):
    j = tmp_path / "set.jsonl"
    j.write_text('{"src": "a b c", "refs": ["c b a", "b a c"]}\n\n{"src": "d e", "ref": "e d"}\n', encoding="utf-8")
    s = load_eval_set(j)
    assert (s.name, s.task, s.srcs, s.refs) == ("set.jsonl", "paraphrase", ["a b c", "d e"], [["c b a", "b a c"], ["e d"]])
    t = tmp_path / "set.tsv"
    t.write_text("long source sentence here\tshort one\tanother\n", encoding="utf-8")
    s = load_eval_set(t, task="summary")
    assert s.task == "summary" and s.refs == [["short one", "another"]]
    assert load_eval_set("mrpc-dev", task="summary", limit=1).task == "summary"


@pytest.mark.parametrize("content, message", [
    (b'{"src": "a", "refs": ["b"]}\n{"src": "a"\n', r"set.jsonl:2: invalid JSON"),
    (b'{"src": "", "refs": ["b"]}\n', r"set.jsonl:1: needs a non-empty string field 'src'"),
    (b'{"src": "a", "refs": []}\n', r"set.jsonl:1: needs 'refs', a non-empty list"),
    (b'{"src": "a", "refs": ["b"]}\n{"src": "\xff\xfe"}\n', r"set.jsonl:2: not UTF-8"),
])
def test_bad_rows_name_the_file_and_line(tmp_path, content, message):
    (tmp_path / "set.jsonl").write_bytes(content)
    with pytest.raises(MalformedInputError, match=message):
        load_eval_set(tmp_path / "set.jsonl")


def test_bad_tsv_empty_file_and_unknown_names(tmp_path):
    (tmp_path / "x.tsv").write_text("only a source\n", encoding="utf-8")
    with pytest.raises(MalformedInputError, match=r"x.tsv:1: a TSV row is the source, then one or more references"):
        load_eval_set(tmp_path / "x.tsv")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(ImpdistError, match="holds no items"):
        load_eval_set(tmp_path / "empty.jsonl")
    with pytest.raises(ImpdistError, match=r"no such file, nor a named evaluation set "
                                           r"\(did you mean 'mrpc-dev'\?\).*bnc-dev"):
        load_eval_set("mrpc-test")
    with pytest.raises(ImpdistError, match="is a named labelled-pairs set, not an evaluation set"):
        load_eval_set("sts-dev")


def test_impdist_data_overrides_a_named_set_and_falls_back_to_the_shipped_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPDIST_DATA", str(tmp_path))
    assert len(load_eval_set("bnc-dev")) == 1629  # the folder lacks it: the shipped copy
    (tmp_path / "summ_bnc_dev.jsonl").write_text('{"src": "a b c", "refs": ["a c"]}\n', encoding="utf-8")
    s = load_eval_set("bnc-dev")
    assert (s.name, s.task, s.srcs) == ("bnc-dev", "summary", ["a b c"])


@pytest.mark.parametrize("limit", [0, -5, 1.5, float("nan")])
def test_a_bad_limit_names_the_limit_not_the_file(limit):
    with pytest.raises(ImpdistError, match=r"^limit must be a positive integer"):
        load_eval_set("mrpc-dev", limit=limit)
