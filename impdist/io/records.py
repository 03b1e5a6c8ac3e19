"""Records on disk: streaming reads of user input (JSONL, text, Parquet) and atomic shard writes.

A row is a dict of JSON values with str keys. JSONL and Parquet hold the same rows, and
`read_rows(write_rows(p, rows).path)` gives back exactly `rows` in both formats (see
`impdist.io._parquet` for how nested values such as `scores` are laid out in Parquet).
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator, Literal

from impdist.errors import (EmptyInputError, InputNotFoundError, MalformedInputError,
                            UnsupportedFormatError)
from impdist.io.atomic import AtomicFile, TempFile, _write_all, write_error

if TYPE_CHECKING:  # pyarrow is imported on first use: JSONL-only runs start faster
    import pyarrow.parquet as pq

Format = Literal["jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "parquet")
MAX_LINE_BYTES = 1 << 20  # 1 MiB: far above any sentence, well below "the whole file on one line"
TEXT_SUFFIXES = (".txt", ".jsonl", ".parquet")
_CHUNK = 1 << 20          # bytes buffered before one write() call
_BATCH = 10_000           # rows per Parquet row group / per read batch
_EXAMPLE = '{"text": "A sentence."}'


@dataclass(frozen=True)
class ShardInfo:
    """What was written: the file, its row count, sha256 (hex) and size in bytes."""

    path: Path
    rows: int
    sha256: str
    bytes: int


def _input_file(path: str | PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{p}: no such file. Check the path (relative paths start at "
                                 f"{Path.cwd()}).")
    if p.is_dir():
        raise InputNotFoundError(f"{p}: is a folder; pass one file (.txt, .jsonl or .parquet).")
    return p


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
    p = _input_file(path)

    def lines() -> Iterator[str]:
        with open(p, "rb") as f:
            yield from (text.rstrip("\r") for _, text in _decoded(f, p, max_line_bytes))
    return lines()


def _objects(path: Path, max_line_bytes: int | None) -> Iterator[tuple[int, dict]]:
    for lineno, text in _lines(path, max_line_bytes):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise MalformedInputError(
                f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno}). Each line must "
                f"be one complete JSON object, e.g. {_EXAMPLE}.") from None
        if not isinstance(obj, dict):
            kind = {list: "array", str: "string", bool: "boolean"}.get(type(obj), "number")
            kind = "null" if obj is None else kind
            raise MalformedInputError(
                f"{path}:{lineno}: expected a JSON object {{...}}, got a JSON {kind}. Each line "
                f"must be one object, e.g. {_EXAMPLE}.")
        yield lineno, obj


def read_jsonl(path: str | PathLike, *, max_line_bytes: int | None = MAX_LINE_BYTES
               ) -> Iterator[dict]:
    """Stream the objects of a JSONL file (one per non-blank line); errors name file:line."""
    p = _input_file(path)
    return (obj for _, obj in _objects(p, max_line_bytes))


def read_jsonl_numbered(path: str | PathLike, *, max_line_bytes: int | None = MAX_LINE_BYTES
                        ) -> Iterator[tuple[int, dict]]:
    """Like `read_jsonl`, with each object's line number, for errors about its fields."""
    return _objects(_input_file(path), max_line_bytes)


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


def _parquet_texts(path: Path, field: str) -> Iterator[str]:
    pf = _open_parquet(path)
    names = pf.schema_arrow.names
    if field not in names:
        raise MalformedInputError(f"{path}: no column {field!r}; the columns are: "
                                  f"{', '.join(names) or '(none)'}. Pass field=<one of them>.")

    def texts() -> Iterator[str]:
        row = 0
        for batch in pf.iter_batches(batch_size=_BATCH, columns=[field]):
            for value in batch.column(0).to_pylist():
                row += 1
                yield _text_of(f"{path}: row {row}", field, value)
    return texts()


def _open_parquet(path: Path) -> pq.ParquetFile:
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise MalformedInputError(f"{path}: not a readable Parquet file ({e}). Check it was "
                                  "fully written, or convert the corpus to .jsonl.") from None


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
    p = _input_file(path)
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
    """Stream the rows of a file written by `write_rows` (format from the suffix)."""
    p = _input_file(path)
    if p.suffix == ".parquet":
        from impdist.io import _parquet
        pf = _open_parquet(p)
        meta = (pf.schema_arrow.metadata or {}).get(_parquet.META_KEY)
        return _parquet.decode(pf.iter_batches(batch_size=_BATCH), meta)
    return (obj for _, obj in _objects(p, None))  # our own files: no line limit


def _fmt(path: Path, fmt: str | None) -> str:
    by_suffix = {".jsonl": "jsonl", ".parquet": "parquet"}.get(path.suffix)
    fmt = fmt or by_suffix or "jsonl"
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if by_suffix and by_suffix != fmt:
        raise ValueError(f"fmt={fmt!r} does not match the suffix of {path}; read_rows picks the "
                         "format from the suffix")
    return fmt


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy scalars and arrays, as filters often compute scores with numpy
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not a JSON value")


def _dumps(row: Any, n: int, path: Path) -> bytes:
    if not isinstance(row, dict) or not all(isinstance(k, str) for k in row):
        raise TypeError(f"row {n} for {path} must be a dict with str keys, got {row!r:.80}")
    try:
        text = json.dumps(row, ensure_ascii=False, default=_json_default)
        try:
            return text.encode("utf-8") + b"\n"
        except UnicodeEncodeError:  # lone surrogates: \u escapes keep them exactly
            return json.dumps(row, default=_json_default).encode("ascii") + b"\n"
    except (TypeError, ValueError) as e:
        raise TypeError(f"row {n} for {path} holds a value JSON cannot store ({e}); rows hold "
                        "str, int, float, bool, None, and lists and dicts of them") from None


def _write_lines(sink: TempFile, rows: Iterable[dict], path: Path, observe=None) -> int:
    """Write rows as JSON lines into `sink` in ~1 MiB chunks; returns the row count."""
    buf: list[bytes] = []
    size = n = 0
    for row in rows:  # an exception from the producer propagates as is, not as a WriteError
        line = _dumps(row, n, path)
        if observe:
            observe(row)
        buf.append(line)
        size += len(line)
        n += 1
        if size >= _CHUNK:
            sink.write(b"".join(buf))
            buf, size = [], 0
    if buf:
        sink.write(b"".join(buf))
    return n


def _write_parquet(path: Path, rows: Iterable[dict]) -> ShardInfo:
    # Two passes so memory stays bounded and the column layout sees every row: rows go to a
    # JSONL spill file first, then are re-read in batches into Parquet row groups.
    import pyarrow.parquet as pq

    from impdist.io import _parquet
    spill = TempFile(path, ".spill")
    try:
        plan = _parquet.ColumnPlan()
        n = _write_lines(spill, rows, path, plan.observe)
        spill.close()
        cols = plan.columns()
        sch = _parquet.schema(cols)
        with AtomicFile(path) as f:
            writer = pq.ParquetWriter(f, sch)
            try:
                batch: list[dict] = []
                for _, obj in _objects(spill.tmp, None):
                    batch.append(obj)
                    if len(batch) == _BATCH:
                        writer.write_table(_parquet.encode(batch, cols, sch))
                        batch = []
                if batch or n == 0:
                    writer.write_table(_parquet.encode(batch, cols, sch))
            except BaseException:
                with contextlib.suppress(Exception):  # else its __del__ writes to a closed fd
                    writer.close()
                raise
            writer.close()
    finally:
        spill.discard()
    return ShardInfo(path, n, f.sha256, f.bytes)


def write_rows(path: str | PathLike, rows: Iterable[dict], fmt: Format | None = None) -> ShardInfo:
    """Write `rows` to `path` atomically: a reader sees the old file or the whole new one.

    `fmt` defaults to the suffix (.jsonl / .parquet). `rows` may be a generator; it is consumed
    once and never held in memory. An OSError while writing raises WriteError; the temp file is
    removed and any previous `path` stays as it was.
    """
    p = Path(path)
    fmt = _fmt(p, fmt)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(p, e) from e
    if fmt == "parquet":
        return _write_parquet(p, rows)
    with AtomicFile(p) as f:
        n = _write_lines(f, rows, p)
    return ShardInfo(p, n, f.sha256, f.bytes)


@contextlib.contextmanager
def open_output(path: str | PathLike) -> Iterator[Callable[[str], None]]:
    """`with open_output(p) as write: write(text)`. "-" streams to stdout; a regular file is
    replaced atomically when the block ends well (a failure leaves the old file as it was); a
    pipe or device is written in place. An OSError raises WriteError naming the output."""
    if str(path) == "-":  # Python's own buffering: lines reach a terminal or pipe as they come
        where = Path("<stdout>")

        def write(text: str) -> None:
            try:
                sys.stdout.write(text)
            except OSError as e:
                raise write_error(where, e) from e
        yield write
        try:
            sys.stdout.flush()
        except OSError as e:
            raise write_error(where, e) from e
        return
    p = Path(path)
    if p.exists() and not p.is_file():
        try:
            fd = os.open(p, os.O_WRONLY)
        except OSError as e:
            raise write_error(p, e) from e
        try:
            def sink(data: bytes) -> None:
                try:
                    _write_all(fd, data)
                except OSError as e:
                    raise write_error(p, e) from e
            yield from _buffered(sink)
        finally:
            os.close(fd)
        return
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(p, e) from e
    with AtomicFile(p) as f:
        yield from _buffered(f.write)


def _buffered(sink: Callable[[bytes], object]) -> Iterator[Callable[[str], None]]:
    """The body of open_output: yields write(str), which hands ~1 MiB blocks to sink; the rest
    goes when the block ends without an error."""
    buf: list[bytes] = []
    size = 0

    def write(text: str) -> None:
        nonlocal size
        data = text.encode("utf-8")
        buf.append(data)
        size += len(data)
        if size >= _CHUNK:
            sink(b"".join(buf))
            buf.clear()
            size = 0
    yield write
    if buf:
        sink(b"".join(buf))
