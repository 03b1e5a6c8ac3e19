"""Streaming reads of user input (text, JSONL, Parquet) and of our own shards, with errors that
name file:line and the fix.

`parse_json_object` is the one JSONL line parser: every reader of JSON lines in impdist (shards,
corpora, evaluation sets, `impdist paraphrase` input) calls it, then checks its own fields.
"""
from __future__ import annotations

import json
import sys
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

from impdist.errors import EmptyInputError, InputNotFoundError, MalformedInputError, UnsupportedFormatError

if TYPE_CHECKING:  # pyarrow is imported on first use: JSONL-only runs start faster
    import pyarrow.parquet as pq

MAX_LINE_BYTES = 1 << 20  # 1 MiB: far above any sentence, well below "the whole file on one line"
TEXT_SUFFIXES = (".txt", ".jsonl", ".parquet")
_EXAMPLE = '{"text": "A sentence."}'


def input_file(path: str | PathLike) -> Path:
    """`path` as a Path, or InputNotFoundError if it is missing or a folder."""
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{p}: no such file. Check the path (relative paths start at "
                                 f"{Path.cwd()}).")
    if p.is_dir():
        raise InputNotFoundError(f"{p}: is a folder; pass one file (.txt, .jsonl or .parquet).")
    return p


def parse_json_object(text: str, where: str, example: str = _EXAMPLE, hint: str = "") -> dict:
    """The JSON object on one input line; MalformedInputError naming `where` (file:line) if it is
    not JSON or not an object. `example` shows a good line; `hint` is a further fix (a sentence)."""
    tail = f" {hint}" if hint else ""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise MalformedInputError(
            f"{where}: invalid JSON ({e.msg} at column {e.colno}). Each line must be one complete "
            f"JSON object, e.g. {example}.{tail}") from None
    if not isinstance(obj, dict):
        kind = {list: "array", str: "string", bool: "boolean"}.get(type(obj), "number")
        kind = "null" if obj is None else kind
        raise MalformedInputError(
            f"{where}: expected a JSON object {{...}}, got a JSON {kind}. Each line must be one "
            f"object, e.g. {example}.{tail}")
    return obj


def _decoded(f: BinaryIO, path: Path, max_line_bytes: int | None) -> Iterator[tuple[int, str]]:
    """(line number, text without its line break) of every line of a binary stream, blank ones
    included, checking UTF-8 and the length limit; errors name `path`:line."""
    offset, lineno = 0, 0
    while raw := (f.readline(max_line_bytes + 1) if max_line_bytes else f.readline()):
        lineno += 1
        start, content = offset, raw.rstrip(b"\n")
        offset += len(raw)
        if max_line_bytes and len(content) > max_line_bytes:
            raise MalformedInputError(
                f"{path}:{lineno}: line is longer than {max_line_bytes} bytes. Each line must "
                "hold one record (is this one big JSON document or a file without line "
                "breaks?): split it into one record per line (from Python, if a record really "
                "is that long, raise max_line_bytes).")
        if lineno == 1 and content.startswith(b"\xef\xbb\xbf"):  # BOM from Windows editors
            content, start = content[3:], start + 3
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as e:
            fix = (f"e.g. `iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}`"
                   if path.suffix else "e.g. through `iconv -f latin1 -t utf-8`")
            raise MalformedInputError(
                f"{path}:{lineno}: not valid UTF-8: byte 0x{content[e.start]:02x} at byte "
                f"offset {start + e.start} of the file (byte {e.start} of the line). Save "
                f"the file as UTF-8, {fix}.") from None
        yield lineno, text


def _lines(path: Path, max_line_bytes: int | None) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-blank line, checking UTF-8 and the length limit."""
    with open(path, "rb") as f:
        for lineno, text in _decoded(f, path, max_line_bytes):
            if text.strip():
                yield lineno, text


def read_lines(path: str | PathLike, *, max_line_bytes: int | None = MAX_LINE_BYTES) -> Iterator[str]:
    """Every line of a text input ("-": stdin) without its line break, blank lines included (so
    outputs can line up with inputs); not UTF-8 or too long a line raises MalformedInputError
    naming file:line."""
    if str(path) == "-":
        return (text.rstrip("\r") for _, text in _decoded(sys.stdin.buffer, Path("<stdin>"), max_line_bytes))
    p = input_file(path)

    def lines() -> Iterator[str]:
        with open(p, "rb") as f:
            yield from (text.rstrip("\r") for _, text in _decoded(f, p, max_line_bytes))
    return lines()


def _objects(path: Path, max_line_bytes: int | None) -> Iterator[tuple[int, dict]]:
    for lineno, text in _lines(path, max_line_bytes):
        yield lineno, parse_json_object(text, f"{path}:{lineno}")


def read_jsonl(path: str | PathLike, *, max_line_bytes: int | None = MAX_LINE_BYTES
               ) -> Iterator[dict]:
    """Stream the objects of a JSONL file (one per non-blank line); errors name file:line."""
    p = input_file(path)
    return (obj for _, obj in _objects(p, max_line_bytes))


def read_jsonl_numbered(path: str | PathLike, *, max_line_bytes: int | None = MAX_LINE_BYTES
                        ) -> Iterator[tuple[int, dict]]:
    """Like `read_jsonl`, with each object's line number, for errors about its fields."""
    return _objects(input_file(path), max_line_bytes)


def _text_of(where: str, field: str, value: Any) -> str:
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise MalformedInputError(f"{where}: field {field!r} is {kind}, expected a string. "
                                  f"Fix that record or choose another field.")
    return value


def _jsonl_texts(path: Path, field: str, max_line_bytes: int | None) -> Iterator[str]:
    for lineno, obj in _objects(path, max_line_bytes):
        if field not in obj:
            have = ", ".join(map(repr, list(obj)[:10])) or "no fields"
            raise MalformedInputError(
                f"{path}:{lineno}: no field {field!r} in this record (it has {have}). Add a "
                f"{field!r} field to every record (from Python, pass field=... to name the one "
                "that holds the text).")
        yield _text_of(f"{path}:{lineno}", field, obj[field])


def open_parquet(path: Path) -> pq.ParquetFile:
    """A Parquet file opened for reading; MalformedInputError if it is not one."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise MalformedInputError(f"{path}: not a readable Parquet file ({e}). Check it was "
                                  "fully written, or convert the corpus to .jsonl.") from None


def _parquet_texts(path: Path, field: str) -> Iterator[str]:
    # impdist.io._parquet needs pyarrow, imported on first use: JSONL-only runs start faster.
    from impdist.io._parquet import BATCH_ROWS

    pf = open_parquet(path)
    names = pf.schema_arrow.names
    if field not in names:
        raise MalformedInputError(f"{path}: no column {field!r}; the columns are: "
                                  f"{', '.join(names) or '(none)'}. Pass field=<one of them>.")

    def texts() -> Iterator[str]:
        row = 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=[field]):
            for value in batch.column(0).to_pylist():
                row += 1
                yield _text_of(f"{path}: row {row}", field, value)
    return texts()


def _non_empty(path: Path, texts: Iterator[str], what: str) -> Iterator[str]:
    n = 0
    for t in texts:
        if t.strip():
            n += 1
            yield t
    if n == 0:
        raise EmptyInputError(f"{path}: the corpus is empty ({what}). Check that this is the "
                              "file you meant.")


def read_texts(path: str | PathLike, field: str = "text", *,
               max_line_bytes: int | None = MAX_LINE_BYTES) -> Iterator[str]:
    """Stream the texts of a user corpus: .txt lines, or `field` of .jsonl records / .parquet rows.

    Blank texts are skipped (.txt lines are also stripped); a corpus with no text at all raises
    EmptyInputError once it has been read to the end.
    """
    p = input_file(path)
    suffix = p.suffix.lower()
    if suffix == ".txt":
        texts = (t.strip() for _, t in _lines(p, max_line_bytes))
        return _non_empty(p, texts, "no non-blank lines")
    if suffix == ".jsonl":
        return _non_empty(p, _jsonl_texts(p, field, max_line_bytes),
                          f"no record has a non-blank {field!r}")
    if suffix == ".parquet":
        return _non_empty(p, _parquet_texts(p, field), f"column {field!r} has no non-blank value")
    raise UnsupportedFormatError(f"{p}: cannot read {suffix or 'files without a suffix'}; the "
                                 f"supported corpus formats are {', '.join(TEXT_SUFFIXES)}. "
                                 "Rename or convert the file.")


def read_rows(path: str | PathLike) -> Iterator[dict]:
    """Stream the rows of a file written by `impdist.io.writers.write_rows` (format from the suffix)."""
    p = input_file(path)
    if p.suffix == ".parquet":
        # impdist.io._parquet needs pyarrow, imported on first use: JSONL-only runs start faster.
        from impdist.io import _parquet

        pf = open_parquet(p)
        meta = (pf.schema_arrow.metadata or {}).get(_parquet.META_KEY)
        return _parquet.decode(pf.iter_batches(batch_size=_parquet.BATCH_ROWS), meta)
    return (obj for _, obj in _objects(p, None))  # our own files: no line limit
