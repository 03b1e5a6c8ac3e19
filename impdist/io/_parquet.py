"""Rows (dicts) <-> Parquet columns, so that reading a shard back gives exactly the rows written.

Each top-level field becomes one column. Its encoding is chosen after seeing every row of the
shard and stored in the file's schema metadata under `impdist`:
- `string`, `int64`, `float64`, `bool`, `null`: every value has that Python type (or is None);
- `map`: every value is a dict of str -> float|None, as the filters' `scores` are; stored as
  Parquet `map<string, double>` so DuckDB, Polars or pandas can query `scores['rougeL']`;
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
_ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
          "bool": pa.bool_(), "null": pa.null(), "map": pa.map_(pa.string(), pa.float64()),
          "json": pa.string()}
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
        return "map"
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


class ColumnPlan:
    """Collects what each field holds over a shard's rows, then decides the column encodings."""

    def __init__(self) -> None:
        self.kinds: dict[str, set[str]] = {}
        self.none: set[str] = set()
        self.present: dict[str, int] = {}
        self.rows = 0

    def observe(self, row: dict) -> None:
        self.rows += 1
        for k, v in row.items():
            kinds = self.kinds.setdefault(k, set())
            self.present[k] = self.present.get(k, 0) + 1
            if v is None:
                self.none.add(k)
            else:
                kinds.add(_kind(v))

    def columns(self) -> dict[str, dict]:
        """{field: {"enc": encoding, "absent": bool}} in first-seen field order."""
        out = {}
        for k, kinds in self.kinds.items():
            absent = self.present[k] < self.rows
            enc = kinds.pop() if len(kinds) == 1 else ("null" if not kinds else "json")
            if absent and k in self.none:
                enc = "json"
            out[k] = {"enc": enc, "absent": absent}
        return out


def schema(columns: dict[str, dict]) -> pa.Schema:
    """The Arrow schema for `columns`, carrying the encodings as metadata."""
    fields = [pa.field(k, _ARROW[c["enc"]]) for k, c in columns.items()]
    meta = json.dumps({"version": 1, "columns": columns}, separators=(",", ":"))
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
            if enc == "map":
                vals = [None if v is None else list(v.items()) for v in vals]
        arrays.append(pa.array(vals, type=_ARROW[enc]))
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
            elif pa.types.is_map(field.type):  # to_pylist gives a map as [(key, value), ...]
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
