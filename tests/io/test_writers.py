"""Writing rows: JSONL and Parquet round trips (nested scores, Unicode, awkward values), same rows
give the same bytes, and rows that JSON cannot store are refused."""
from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impdist.io import read_rows, write_rows

ROWS = [
    {"id": "0", "src": "The cat sat.", "tgt": "A cat was sitting.", "task": "paraphrase",
     "context_id": 0, "round": 0, "scores": {"nli_fwd": 0.91, "nli_bwd": 0.88, "rougeL": 0.4}},
    {"id": "1", "src": "Ünïcödé ☃ 漢字 😀 \u2028 tab\tnewline\n", "tgt": "", "task": "summary",
     "context_id": 1, "round": 2, "scores": {}},
    {"id": "2", "src": "x", "tgt": "y", "task": "paraphrase", "context_id": 2, "round": 1,
     "scores": {"bleu": None, "compression": 0.5, "nli_fwd": -0.0}, "reason": "nli_fwd"},
]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_round_trip_records_with_nested_scores_and_unicode(tmp_path, fmt):
    info = write_rows(tmp_path / f"s.{fmt}", ROWS)
    assert info.rows == 3 and info.path == tmp_path / f"s.{fmt}"
    assert info.bytes == info.path.stat().st_size
    back = list(read_rows(info.path))
    assert back == ROWS
    assert [list(r) for r in back] == [list(r) for r in ROWS]  # key order too
    assert math.copysign(1, back[2]["scores"]["nli_fwd"]) == -1


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_round_trip_awkward_rows(tmp_path, fmt):
    rows = [
        {"a": 1, "b": 1.5, "n": None, "deep": {"x": [1, {"y": None}]}, "big": 2**70, "mix": 1},
        {"a": 2, "b": 2.0, "n": None, "deep": {}, "big": 3, "mix": 1.0, "only_here": True},
        {"a": 3, "b": float("inf"), "deep": {"x": "s"}, "big": -1, "mix": "s",
         "lone": "\ud800 surrogate", "scores": {"\udfff": 1.0}},
        {"a": 4, "b": 0.1, "n": 5, "big": 0, "mix": [1], "only_here": None},
    ]
    back = list(read_rows(write_rows(tmp_path / f"s.{fmt}", rows).path))
    assert back == rows
    assert [sorted(r) for r in back] == [sorted(r) for r in rows]  # absent stays absent
    assert type(back[1]["mix"]) is float and type(back[0]["mix"]) is int


def test_parquet_scores_are_a_struct_column(tmp_path):
    rows = [{**r, "scores": s} for r, s in zip(ROWS, ({"nli_fwd": 0.9, "rougeL": 0.4}, {}, {"rougeL": -0.0}))]
    path = write_rows(tmp_path / "s.parquet", rows).path
    schema = pq.read_schema(path)
    assert pa.types.is_struct(schema.field("scores").type)  # what `datasets` can load
    assert schema.field("src").type == pa.string()
    assert list(read_rows(path)) == rows


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_empty_shard_and_numpy_values(tmp_path, fmt):
    np = pytest.importorskip("numpy")
    assert list(read_rows(write_rows(tmp_path / f"e.{fmt}", []).path)) == []
    rows = [{"s": {"rougeL": np.float64(0.25)}, "v": np.float32(0.5), "k": np.int64(3)}]
    back = list(read_rows(write_rows(tmp_path / f"n.{fmt}", iter(rows)).path))
    assert back == [{"s": {"rougeL": 0.25}, "v": 0.5, "k": 3}]


def test_same_rows_give_the_same_bytes(tmp_path):
    for fmt in ("jsonl", "parquet"):
        a = write_rows(tmp_path / f"a.{fmt}", ROWS)
        b = write_rows(tmp_path / "sub" / f"b.{fmt}", iter(ROWS))
        assert (a.sha256, a.bytes) == (b.sha256, b.bytes)


def test_rows_must_be_dicts_of_json_values(tmp_path):
    with pytest.raises(TypeError, match="row 1 .* must be a dict"):
        write_rows(tmp_path / "x.jsonl", [{"a": 1}, ["no"]])
    with pytest.raises(TypeError, match="row 0 .*JSON cannot store"):
        write_rows(tmp_path / "x.jsonl", [{"a": object()}])
    with pytest.raises(ValueError, match="does not match the suffix"):
        write_rows(tmp_path / "x.jsonl", [], fmt="parquet")
    assert list(tmp_path.iterdir()) == []


def test_jsonl_output_is_plain_json_lines(tmp_path):
    p = write_rows(tmp_path / "s.jsonl", ROWS).path
    lines = p.read_text(encoding="utf-8").rstrip("\n").split("\n")  # not splitlines: U+2028
    assert [json.loads(x) for x in lines] == ROWS and "☃" in lines[1]
