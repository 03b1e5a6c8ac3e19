"""Evaluation sets: sources with their references, from our JSONL (`src`, `refs`), a TSV
(source, then one reference per column), a named set shipped with impdist, or hf:REPO[:CONFIG[:SPLIT]]."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from impdist import data as _data
from impdist.domains import POSITIVE_INT
from impdist.errors import ImpdistError, MalformedInputError
from impdist.io.readers import parse_json_object
from impdist.tasks import check_task

# name -> (file, task) of the named evaluation sets; the registry itself is impdist.data.NAMED.
NAMED = {name: (s.file, s.task) for name, s in _data.NAMED.items() if s.kind == "eval"}


@dataclass(frozen=True)
class EvalSet:
    """A benchmark: name, task, and per item its source and references."""

    name: str
    task: str
    srcs: list[str]
    refs: list[list[str]]

    def __len__(self) -> int:
        return len(self.srcs)


def load_eval_set(data: str | os.PathLike, *, task: str | None = None, limit: int | None = None) -> EvalSet:
    """A file, a named set (see NAMED) or hf:REPO[:CONFIG[:SPLIT]] (impdist.data.resolve); `task`
    overrides the named set's (files default to paraphrase); `limit` keeps the first N items."""
    POSITIVE_INT.check(limit, "limit", optional=True)  # blame the flag, not the file, for limit=0
    spec = os.fspath(data)
    path = _data.resolve(spec, "eval")
    is_file = Path(spec).expanduser().is_file()  # a file wins over a set of the same name
    name = path.name if is_file else spec
    task = check_task(task or (NAMED[spec][1] if spec in NAMED and not is_file else None) or "paraphrase")
    srcs, refs = _read(path, limit)
    if not srcs:
        raise ImpdistError(f"{path}: holds no items to evaluate on; each line must be an object like "
                           f"{_EXAMPLE} (or, in a .tsv, the source, then its references, tab-separated)")
    return EvalSet(name, task, srcs, refs)


def _read(path: Path, limit: int | None) -> tuple[list[str], list[list[str]]]:
    srcs: list[str] = []
    refs: list[list[str]] = []
    tsv = path.suffix.lower() in (".tsv", ".tab")
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if limit is not None and len(srcs) >= limit:
                break
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise MalformedInputError(f"{where}: not UTF-8 ({e.reason} at byte {e.start}); re-encode the file "
                                          "as UTF-8") from None
            if not line.strip():
                continue
            src, ref = _parse_tsv(line, where) if tsv else _parse_jsonl(line, where)
            srcs.append(src)
            refs.append(ref)
    return srcs, refs


def _parse_tsv(line: str, where: str) -> tuple[str, list[str]]:
    fields = [f.strip() for f in line.split("\t")]
    if len(fields) < 2 or not fields[0] or not all(fields[1:]):
        raise MalformedInputError(f"{where}: a TSV row is the source, then one or more references, separated "
                                  "by tabs, none empty")
    return fields[0], fields[1:]


_EXAMPLE = '{"src": "A sentence.", "refs": ["Its reference rewrite."]}'


def _parse_jsonl(line: str, where: str) -> tuple[str, list[str]]:
    example = _EXAMPLE
    row = parse_json_object(line, where, example)
    if not isinstance(row.get("src"), str) or not row["src"].strip():
        raise MalformedInputError(f"{where}: needs a non-empty string field 'src', like {example}")
    refs = row.get("refs", row.get("ref"))
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        raise MalformedInputError(f"{where}: needs 'refs', a non-empty list of non-empty strings, like {example}")
    return row["src"], refs
