"""A stage's `manifest.json`: its form, reading it (a damaged one is named as such), and the
checksum and row count of a shard file, which its entry in the manifest must match.

A manifest is an object with at least `stage`, `format`, `status` and `shards`; `shards` maps each
shard name to {file: <shard>.<format>, rows, sha256, bytes}. One that does not parse or has
another form was edited or damaged: CorruptStageError says which file, and to move its folder away.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from impdist.errors import CorruptStageError
from impdist.io.readers import open_parquet
from impdist.io.writers import FORMATS

MANIFEST = "manifest.json"
_KEYS = ("stage", "format", "status", "shards")  # what every reader of a manifest indexes
_SHARD_ENTRY = {"file": str, "rows": int, "sha256": str, "bytes": int}
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a stage's or a shard's name


def damaged(mpath: Path, what: str) -> CorruptStageError:
    """The error for a manifest that was edited or damaged: move its stage folder away."""
    return CorruptStageError(f"{mpath}: {what}; it was edited or damaged. Move {mpath.parent} "
                             "away to redo this stage.")


def _bad_entry(shard: Any, entry: Any, fmt: str) -> bool:
    """Whether a manifest's entry for `shard` is not {file: <shard>.<fmt>, rows, sha256, bytes}."""
    if not isinstance(shard, str) or not NAME_RE.match(shard) or not isinstance(entry, dict):
        return True
    if any(not isinstance(entry.get(k), t) or isinstance(entry.get(k), bool) for k, t in _SHARD_ENTRY.items()):
        return True
    return entry["file"] != f"{shard}.{fmt}" or entry["rows"] < 0 or entry["bytes"] < 0


def shard_digest(path: Path, fmt: str) -> tuple[str, int]:
    """(sha256, rows) of a shard file: JSONL rows are its lines, Parquet's are in its footer."""
    h, lines = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            lines += block.count(b"\n")
    if fmt == "jsonl":
        return h.hexdigest(), lines
    return h.hexdigest(), open_parquet(path).metadata.num_rows


def read_manifest(folder: Path) -> dict:
    """The manifest of stage folder `folder`, checked for the form every reader relies on
    (CorruptStageError, naming the file and the fix, if it is missing, unreadable or damaged)."""
    mpath = Path(folder) / MANIFEST
    try:
        data = json.loads(mpath.read_bytes())
    except FileNotFoundError:
        raise CorruptStageError(f"{mpath}: missing; {mpath.parent} is not a stage directory "
                                "(or was not fully created). Delete it and re-run.") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise damaged(mpath, f"unreadable ({e})") from None
    except OSError as e:
        raise CorruptStageError(f"{mpath}: cannot be read ({e.strerror or e}); check the "
                                "folder's permissions") from None
    missing = [k for k in _KEYS if k not in data] if isinstance(data, dict) else None
    if missing is None or missing or not isinstance(data["shards"], dict):
        raise damaged(mpath, f"lacks {', '.join(missing)}" if missing else "is not a manifest object")
    if data["format"] not in FORMATS:
        raise damaged(mpath, f"its format {data['format']!r} is not one of {', '.join(FORMATS)}")
    bad = next((s for s, e in data["shards"].items() if _bad_entry(s, e, data["format"])), None)
    if bad is not None:
        raise damaged(mpath, f"its entry for shard {bad!r} is not {{file: {bad}.{data['format']}, rows, "
                              "sha256, bytes}")
    return data


def manifest_bytes(m: dict) -> bytes:
    """A manifest as its file holds it: indented, key-sorted JSON."""
    return (json.dumps(m, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
