"""Reading user input and shards, with errors that name file:line and the fix; the one JSON line
parser that every JSONL reader calls."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impdist.errors import (EmptyInputError, ImpdistError, InputNotFoundError, MalformedInputError,
                            UnsupportedFormatError)
from impdist.io import read_jsonl, read_lines, read_texts
from impdist.io.readers import parse_json_object


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


def test_one_line_parser_names_where_and_the_fix():
    assert parse_json_object('{"a": 1}', "x:1") == {"a": 1}
    with pytest.raises(MalformedInputError, match=r"^f.jsonl:3: invalid JSON \(Expecting value at column 7\)\. "
                                                  r"Each line must be one complete JSON object, e\.g\. \{\"src\": 1\}\. "
                                                  r"Or pass --format text\.$"):
        parse_json_object('{"a": }', "f.jsonl:3", '{"src": 1}', "Or pass --format text.")
    with pytest.raises(MalformedInputError, match=r"^x:2: expected a JSON object \{\.\.\.\}, got a JSON boolean\. "
                                                  r"Each line must be one object, e\.g\. \{\"text\": \"A sentence\.\"\}\.$"):
        parse_json_object("true", "x:2")


def test_read_lines_keeps_blank_lines_and_names_a_bad_one(tmp_path):
    p = _write(tmp_path / "in.txt", b"a\r\n\n b \n\xff\n")
    lines = read_lines(p)
    assert [next(lines), next(lines), next(lines)] == ["a", "", " b "]
    with pytest.raises(MalformedInputError, match=r"in.txt:4: not valid UTF-8"):
        next(lines)
