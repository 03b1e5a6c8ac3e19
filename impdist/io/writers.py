"""Atomic writes of rows (shards in JSONL or Parquet) and of a command's output file.

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
from typing import Any, Callable, Iterable, Iterator, Literal

from impdist.io.atomic import AtomicFile, TempFile, write_all, write_error
from impdist.io.readers import read_jsonl

Format = Literal["jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "parquet")
_CHUNK = 1 << 20  # bytes buffered before one write() call


@dataclass(frozen=True)
class ShardInfo:
    """What was written: the file, its row count, sha256 (hex) and size in bytes."""

    path: Path
    rows: int
    sha256: str
    bytes: int


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


def _write_lines(sink: TempFile, rows: Iterable[dict], path: Path,
                 observe: Callable[[dict], None] | None = None) -> int:
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

    from impdist.io import _parquet  # needs pyarrow, imported on first use: JSONL-only runs start faster
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
                for obj in read_jsonl(spill.tmp, max_line_bytes=None):
                    batch.append(obj)
                    if len(batch) == _parquet.BATCH_ROWS:
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
                    write_all(fd, data)
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
