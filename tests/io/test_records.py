"""Reading user input (with errors that name file:line and the fix) and row round trips."""
from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impdist.errors import (EmptyInputError, ImpdistError, InputNotFoundError, MalformedInputError,
                            UnsupportedFormatError)
from impdist.io import read_jsonl, read_rows, read_texts, write_rows

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


def test_parquet_scores_are_a_queryable_map_column(tmp_path):
    path = write_rows(tmp_path / "s.parquet", ROWS).path
    schema = pq.read_schema(path)
    assert pa.types.is_map(schema.field("scores").type)
    assert schema.field("src").type == pa.string()


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


# --- read_jsonl: every malformed line names path:line and the fix ---

def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_read_jsonl_streams_and_skips_blank_lines(tmp_path):
    p = _write(tmp_path / "in.jsonl", b'\xef\xbb\xbf{"a": 1}\r\n\n  \n{"a": "\xc3\xa9"}\n{"a": 3}')
    assert list(read_jsonl(p)) == [{"a": 1}, {"a": "é"}, {"a": 3}]


def test_bad_json_names_file_and_line(tmp_path):
    p = _write(tmp_path / "in.jsonl", b'{"a": 1}\n\n{"a": 2,,}\n')
    it = read_jsonl(p)
    assert next(it) == {"a": 1}  # streaming: good lines come before the error
    with pytest.raises(MalformedInputError, match=rf"{p}:3: invalid JSON .*column 9.*one complete JSON object"):
        next(it)


@pytest.mark.parametrize("line,kind", [(b"[1, 2]", "array"), (b'"text"', "string"),
                                       (b"3", "number"), (b"null", "null")])
def test_non_object_line(tmp_path, line, kind):
    p = _write(tmp_path / "in.jsonl", b'{"a": 1}\n' + line + b"\n")
    with pytest.raises(MalformedInputError, match=rf"in.jsonl:2: expected a JSON object .*got a JSON {kind}"):
        list(read_jsonl(p))


def test_non_utf8_names_the_byte_offset(tmp_path):
    p = _write(tmp_path / "in.jsonl", b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    with pytest.raises(MalformedInputError) as e:
        list(read_jsonl(p))
    msg = str(e.value)
    assert f"{p}:2: not valid UTF-8: byte 0xe9 at byte offset 22 of the file (byte 10 of the line)" in msg
    assert "iconv" in msg


def test_line_over_the_size_limit(tmp_path):
    p = _write(tmp_path / "in.jsonl", b'{"a": 1}\n{"a": "' + b"x" * 200 + b'"}\n')
    with pytest.raises(MalformedInputError, match=r"in.jsonl:2: line is longer than 100 bytes.*max_line_bytes"):
        list(read_jsonl(p, max_line_bytes=100))
    assert len(list(read_jsonl(p, max_line_bytes=209))) == 2  # exactly at the limit is fine
    big = _write(tmp_path / "big.jsonl", b'{"a": "' + b"x" * (1 << 20) + b'"}\n')
    with pytest.raises(MalformedInputError, match=r"big.jsonl:1: line is longer than 1048576 bytes"):
        list(read_jsonl(big))
    assert len(list(read_jsonl(big, max_line_bytes=None))) == 1


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputNotFoundError, match=r"nope.jsonl: no such file. Check the path"):
        read_jsonl(tmp_path / "nope.jsonl")  # raised at the call, not at the first next()
    with pytest.raises(FileNotFoundError):
        read_texts(tmp_path / "nope.txt")
    with pytest.raises(InputNotFoundError, match="is a folder"):
        read_texts(tmp_path)


# --- read_texts: a user corpus ---

def test_read_texts_txt(tmp_path):
    p = _write(tmp_path / "c.txt", "First line.\r\n\n   \n  Second ☃ line.  \nlast".encode())
    assert list(read_texts(p)) == ["First line.", "Second ☃ line.", "last"]


def test_read_texts_jsonl_and_parquet(tmp_path):
    p = _write(tmp_path / "c.jsonl", b'{"text": "a", "id": 1}\n{"text": ""}\n{"body": "x", "text": "b"}\n')
    assert list(read_texts(p)) == ["a", "b"]
    pq.write_table(pa.table({"id": [1, 2, 3], "body": ["x", "", "z ☃"]}), tmp_path / "c.parquet")
    assert list(read_texts(tmp_path / "c.parquet", field="body")) == ["x", "z ☃"]


def test_read_texts_missing_jsonl_field(tmp_path):
    p = _write(tmp_path / "c.jsonl", b'{"text": "a"}\n{"txt": "b", "id": 2}\n')
    with pytest.raises(MalformedInputError, match=r"c.jsonl:2: no field 'text' in this record \(it has 'txt', 'id'\).*field="):
        list(read_texts(p))


def test_read_texts_non_string_field(tmp_path):
    p = _write(tmp_path / "c.jsonl", b'{"text": "a"}\n{"text": 5}\n')
    with pytest.raises(MalformedInputError, match=r"c.jsonl:2: field 'text' is int, expected a string"):
        list(read_texts(p))
    pq.write_table(pa.table({"text": ["a", None]}), tmp_path / "c.parquet")
    with pytest.raises(MalformedInputError, match=r"c.parquet: row 2: field 'text' is null"):
        list(read_texts(tmp_path / "c.parquet"))


def test_read_texts_missing_parquet_column_lists_the_columns(tmp_path):
    pq.write_table(pa.table({"id": [1], "sentence": ["a"]}), tmp_path / "c.parquet")
    with pytest.raises(MalformedInputError, match=r"c.parquet: no column 'text'; the columns are: id, sentence"):
        read_texts(tmp_path / "c.parquet")


def test_read_texts_unreadable_parquet(tmp_path):
    p = _write(tmp_path / "c.parquet", b"this is not parquet")
    with pytest.raises(MalformedInputError, match=r"c.parquet: not a readable Parquet file"):
        read_texts(p)


def test_read_texts_unknown_suffix(tmp_path):
    p = _write(tmp_path / "c.csv", b"a\n")
    with pytest.raises(UnsupportedFormatError, match=r"c.csv: cannot read .csv; the supported corpus formats are .txt, .jsonl, .parquet"):
        read_texts(p)


@pytest.mark.parametrize("name,data", [("e.txt", b""), ("e.txt", b"\n  \n\t\n"),
                                       ("e.jsonl", b'{"text": ""}\n{"text": "  "}\n'),
                                       ("e.jsonl", b"")])
def test_empty_corpus(tmp_path, name, data):
    p = _write(tmp_path / name, data)
    with pytest.raises(EmptyInputError, match=rf"{name}: the corpus is empty"):
        list(read_texts(p))


def test_empty_parquet_corpus(tmp_path):
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "e.parquet")
    with pytest.raises(EmptyInputError, match="column 'text' has no non-blank value"):
        list(read_texts(tmp_path / "e.parquet"))


def test_txt_errors_name_the_line_too(tmp_path):
    p = _write(tmp_path / "c.txt", b"ok\n\xff\xfe bad\n")
    with pytest.raises(MalformedInputError, match=r"c.txt:2: not valid UTF-8: byte 0xff at byte offset 3"):
        list(read_texts(p))


def test_every_input_error_is_an_impdist_error():
    for cls in (MalformedInputError, EmptyInputError, InputNotFoundError, UnsupportedFormatError):
        assert issubclass(cls, ImpdistError)


def test_jsonl_output_is_plain_json_lines(tmp_path):
    p = write_rows(tmp_path / "s.jsonl", ROWS).path
    lines = p.read_text(encoding="utf-8").rstrip("\n").split("\n")  # not splitlines: U+2028
    assert [json.loads(x) for x in lines] == ROWS and "☃" in lines[1]
