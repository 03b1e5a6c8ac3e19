"""Evaluation sets: sources with their references, from our JSONL (`src`, `refs`), a TSV
(source, then one reference per column), or a named real set in the shared data folder."""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from impdist.errors import ImpdistError, MalformedInputError

# name -> (file in the data folder, task)
NAMED = {
    "mrpc-dev": ("mrpc_dev.jsonl", "paraphrase"),
    "google-compression-dev": ("summ_google_dev.jsonl", "summary"),
    "broadcast-dev": ("summ_broadcast_dev.jsonl", "summary"),
    "bnc-dev": ("summ_bnc_dev.jsonl", "summary"),
}


@dataclass(frozen=True)
class EvalSet:
    """A benchmark: name, task, and per item its source and references."""

    name: str
    task: str
    srcs: list[str]
    refs: list[list[str]]

    def __len__(self) -> int:
        return len(self.srcs)


def data_dir() -> Path:
    """Where the named sets live: $IMPDIST_DATA, else ../shared/data beside the source checkout
    or the working directory."""
    env = os.environ.get("IMPDIST_DATA")
    if env:
        return Path(env)
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "data"


def load_eval_set(data: str | os.PathLike, *, task: str | None = None, limit: int | None = None) -> EvalSet:
    """A named set (see NAMED) or a file; `task` overrides the named set's (files default to
    paraphrase); `limit` keeps the first N items."""
    name = str(data)
    if name in NAMED:
        file, named_task = NAMED[name]
        path = data_dir() / file
        if not path.exists():
            raise ImpdistError(f"evaluation set {name!r} needs {path}, which is missing: set IMPDIST_DATA to the "
                               "folder holding the shared data, or pass a file with --data")
        task = task or named_task
    else:
        path = Path(data)
        if path.is_dir():
            raise ImpdistError(f"--data {name!r} is a folder; give one file (JSONL with {{\"src\", \"refs\"}} per "
                               f"line, or TSV: source, then references) or a named set ({', '.join(NAMED)})")
        if not path.is_file():
            close = difflib.get_close_matches(name, list(NAMED), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ImpdistError(f"--data {name!r} is neither a named set ({', '.join(NAMED)}) nor a file{hint}; "
                               "give one of those names, or the path of a JSONL or TSV evaluation file")
        name = path.name
    srcs, refs = _read(path, limit)
    if not srcs:
        raise ImpdistError(f"{path}: holds no items to evaluate on; each line must be an object like "
                           f"{_EXAMPLE} (or, in a .tsv, the source, then its references, tab-separated)")
    return EvalSet(name, task or "paraphrase", srcs, refs)


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
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise MalformedInputError(f"{where}: invalid JSON ({e.msg}); each line must be an object like "
                                  f"{example}") from None
    if not isinstance(row, dict) or not isinstance(row.get("src"), str) or not row["src"].strip():
        raise MalformedInputError(f"{where}: needs a non-empty string field 'src', like {example}")
    refs = row.get("refs", row.get("ref"))
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        raise MalformedInputError(f"{where}: needs 'refs', a non-empty list of non-empty strings, like {example}")
    return row["src"], refs
