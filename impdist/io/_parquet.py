"""Rows (dicts) <-> Parquet columns, so that reading a shard back gives exactly the rows written.

Each top-level field becomes one column. Its encoding is chosen after seeing every row of the
shard and stored in the file's schema metadata under `impdist`:
- `string`, `int64`, `float64`, `bool`, `null`: every value has that Python type (or is None);
- `struct`: every value is a dict of str -> float|None, as the filters' `scores` are; stored as a
  struct of float64 fields (the keys' union, in first-seen order), which `datasets`, DuckDB,
  Polars and pandas all read (`scores.rougeL`). A null field means the key is missing when every
  dict's keys follow that order and none holds None (`"null": "missing"`), or None when every dict
  has every key in that order (`"null": "none"`); a field fitting neither is stored as `json`;
- `map`: read only. Shards written before version 2 stored such dicts as `map<string, double>`,
  which `datasets` cannot load; they still read back as they were written;
- `json`: anything else (other nested dicts, lists, a field mixing int and float) is stored as
  its JSON text, which keeps int vs float, key order and nesting exactly.
Parquet has no "absent" distinct from null, so a field missing from some rows is flagged
`absent`: a null then means "key missing". A field that is both missing and None in different
rows is stored as `json`, where null means missing and the string "null" means None.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

import pyarrow as pa

META_KEY = b"impdist"
BATCH_ROWS = 10_000  # rows per row group when writing, per record batch when reading
_INT64 = (-(2**63), 2**63 - 1)
FORMAT_VERSION = 2  # 2: float dicts as structs (1: as maps)
_ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
          "bool": pa.bool_(), "null": pa.null(), "json": pa.string()}
_SCALAR = {bool: "bool", int: "int64", float: "float64", str: "string"}


def _kind(v: Any) -> str:
    if isinstance(v, bool):  # before int: bool is an int subclass
        return "bool"
    for t, name in _SCALAR.items():
        if isinstance(v, t):
            if name == "int64" and not _INT64[0] <= v <= _INT64[1]:
                return "json"
            if name == "string" and not _utf8_ok(v):
                return "json"
            return name
    if isinstance(v, dict) and all(isinstance(k, str) and _utf8_ok(k) and
                                   (x is None or isinstance(x, float)) for k, x in v.items()):
        return "struct"
    return "json"


def _utf8_ok(s: str) -> bool:
    """False for strings holding lone surrogates, which Arrow strings cannot store."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_text(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if _utf8_ok(text) else json.dumps(v)  # \u escapes keep lone surrogates


class _DictKeys:
    """The keys a field's dicts hold over a shard: their union in first-seen order, whether every
    dict lists exactly that union (`uniform`) or a part of it in that order (`ordered`), and
    whether any value is None."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.first: tuple[str, ...] | None = None
        self.uniform = self.ordered = True
        self.has_none = False

    def observe(self, d: dict) -> None:
        keys = tuple(d)
        if self.first is None:
            self.first = keys
        self.uniform = self.uniform and keys == self.first
        last = -1
        for key, value in d.items():
            i = self.index.setdefault(key, len(self.index))
            self.ordered = self.ordered and i > last
            last = i
            self.has_none = self.has_none or value is None

    def null_means(self) -> str | None:
        """"none" or "missing": what a null struct field stands for; None if a struct cannot
        hold these dicts exactly."""
        if not self.index:
            return None  # Parquet cannot store a struct without fields
        if self.uniform and len(self.first or ()) == len(self.index):
            return "none"
        return "missing" if self.ordered and not self.has_none else None


class ColumnPlan:
    """Collects what each field holds over a shard's rows, then decides the column encodings."""

    def __init__(self) -> None:
        self.kinds: dict[str, set[str]] = {}
        self.none: set[str] = set()
        self.present: dict[str, int] = {}
        self.dicts: dict[str, _DictKeys] = {}
        self.rows = 0

    def observe(self, row: dict) -> None:
        self.rows += 1
        for k, v in row.items():
            kinds = self.kinds.setdefault(k, set())
            self.present[k] = self.present.get(k, 0) + 1
            if v is None:
                self.none.add(k)
                continue
            kind = _kind(v)
            kinds.add(kind)
            if kind == "struct":
                self.dicts.setdefault(k, _DictKeys()).observe(v)

    def columns(self) -> dict[str, dict]:
        """{field: {"enc": encoding, "absent": bool[, "keys": [...], "null": ...]}} in first-seen
        field order."""
        out: dict[str, dict] = {}
        for k, kinds in self.kinds.items():
            absent = self.present[k] < self.rows
            enc = next(iter(kinds)) if len(kinds) == 1 else ("null" if not kinds else "json")
            if absent and k in self.none:
                enc = "json"
            col: dict = {"enc": enc, "absent": absent}
            if enc == "struct":
                keys, null = list(self.dicts[k].index), self.dicts[k].null_means()
                col = {"enc": "json", "absent": absent} if null is None else {**col, "keys": keys, "null": null}
            out[k] = col
        return out


def _arrow_type(column: dict) -> pa.DataType:
    if column["enc"] == "struct":
        return pa.struct([pa.field(key, pa.float64()) for key in column["keys"]])
    return _ARROW[column["enc"]]


def schema(columns: dict[str, dict]) -> pa.Schema:
    """The Arrow schema for `columns`, carrying the encodings as metadata."""
    fields = [pa.field(k, _arrow_type(c)) for k, c in columns.items()]
    meta = json.dumps({"version": FORMAT_VERSION, "columns": columns}, separators=(",", ":"))
    return pa.schema(fields, metadata={META_KEY: meta.encode()})


def encode(rows: list[dict], columns: dict[str, dict], sch: pa.Schema) -> pa.Table:
    """A table of `rows` laid out as `columns` decided."""
    arrays = []
    for k, c in columns.items():
        enc = c["enc"]
        if enc == "json":  # null = key missing; "null" = None
            vals = [_json_text(r[k]) if k in r else None for r in rows]
        else:
            vals = [r.get(k) for r in rows]
        arrays.append(pa.array(vals, type=_arrow_type(c)))
    return pa.Table.from_arrays(arrays, schema=sch)


def decode(batches: Iterable[pa.RecordBatch], meta: bytes | None) -> Iterator[dict]:
    """Rows back from record batches of a file written by `encode` (or any plain Parquet)."""
    columns = json.loads(meta)["columns"] if meta else None
    for batch in batches:
        cols = []
        for i, field in enumerate(batch.schema):
            vals = batch.column(i).to_pylist()
            c = columns.get(field.name) if columns else None
            absent = bool(c and c["absent"])
            if c and c["enc"] == "json":
                vals, absent = [_MISSING if v is None else json.loads(v) for v in vals], False
            elif c and c["enc"] == "struct" and c["null"] == "missing":
                vals = [v if v is None else {key: x for key, x in v.items() if x is not None} for v in vals]
            elif pa.types.is_map(field.type):  # a version-1 shard; to_pylist gives [(key, value), ...]
                vals = [v if v is None else dict(v) for v in vals]
            cols.append((field.name, vals, absent))
        for j in range(batch.num_rows):
            row = {}
            for name, vals, absent in cols:
                v = vals[j]
                if v is _MISSING or (absent and v is None):
                    continue
                row[name] = v
            yield row


_MISSING = object()
