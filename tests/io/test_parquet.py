"""The Parquet layout of rows: float dicts (the filters' `scores`) as structs that `datasets` loads
with the same rows as the JSONL shard, exact round trips whatever the dicts hold, and shards of
layout version 1 (scores as a map) still readable."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impdist.io import _parquet, read_rows, write_rows

UNIFORM = [{"id": "0", "scores": {"rougeL": 0.4, "bleu": None}},
           {"id": "1", "scores": {"rougeL": 0.5, "bleu": 12.5}}]
SUBSETS = [{"id": "0", "scores": {"compression": 0.9, "rougeL": 0.4}},
           {"id": "1", "scores": {"compression": 0.5, "rougeL": 0.2, "judge_fwd": 0.8, "judge_bwd": 0.7}},
           {"id": "2", "scores": {"compression": 0.5, "judge_fwd": 0.1}},
           {"id": "3", "scores": {}}]


def _layout(path, field: str = "scores") -> dict:
    return json.loads(pq.read_schema(path).metadata[_parquet.META_KEY])["columns"][field]


@pytest.mark.parametrize("rows, null", [(UNIFORM, "none"), (SUBSETS, "missing")])
def test_float_dicts_are_structs_that_read_back_exactly(tmp_path, rows, null):
    path = write_rows(tmp_path / "s.parquet", rows).path
    kind = pq.read_schema(path).field("scores").type
    assert pa.types.is_struct(kind) and all(kind.field(i).type == pa.float64() for i in range(kind.num_fields))
    assert _layout(path)["null"] == null
    back = list(read_rows(path))
    assert back == rows
    assert [list(r["scores"]) for r in back] == [list(r["scores"]) for r in rows]  # key order too


@pytest.mark.parametrize("rows", [
    [{"s": {"a": 1.0}}, {"s": {"b": None}}],              # a missing key and a None value
    [{"s": {"a": 1.0, "b": 2.0}}, {"s": {"b": 2.0, "a": 1.0}}],  # the keys in another order
    [{"s": {}}, {"s": {}}],                                # no key at all: Parquet has no empty struct
])
def test_dicts_a_struct_cannot_hold_exactly_are_json(tmp_path, rows):
    path = write_rows(tmp_path / "s.parquet", rows).path
    assert _layout(path, "s")["enc"] == "json"
    back = list(read_rows(path))
    assert back == rows and [list(r["s"]) for r in back] == [list(r["s"]) for r in rows]


def test_version_1_shards_with_a_map_still_read(tmp_path):
    rows = [{"id": "0", "scores": {"rougeL": 0.4, "bleu": None}}, {"id": "1", "scores": {}}]
    meta = {"version": 1, "columns": {"id": {"enc": "string", "absent": False},
                                      "scores": {"enc": "map", "absent": False}}}
    sch = pa.schema([pa.field("id", pa.string()), pa.field("scores", pa.map_(pa.string(), pa.float64()))],
                    metadata={_parquet.META_KEY: json.dumps(meta).encode()})
    table = pa.Table.from_arrays([pa.array(["0", "1"]),
                                  pa.array([list(r["scores"].items()) for r in rows], sch.field("scores").type)],
                                 schema=sch)
    pq.write_table(table, tmp_path / "old.parquet")
    assert list(read_rows(tmp_path / "old.parquet")) == rows


def test_datasets_loads_parquet_and_jsonl_shards_with_the_same_rows(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [{"id": str(i), "src": f"Source {i}.", "tgt": f"Target {i}.", "task": "paraphrase", "context_id": i,
             "round": 0, "scores": {"compression": 1.0 + i / 10, "rougeL": 0.5, "judge_fwd": 0.9}}
            for i in range(5)]
    loaded = {}
    for fmt in ("jsonl", "parquet"):
        write_rows(tmp_path / fmt / f"kept-00000.{fmt}", rows)
        ds = datasets.load_dataset("json" if fmt == "jsonl" else "parquet", split="train",
                                   data_files=str(tmp_path / fmt / f"*.{fmt}"), cache_dir=str(tmp_path / "cache"))
        loaded[fmt] = list(ds)
    assert loaded["parquet"] == loaded["jsonl"] == rows
