"""A stage's run directory: its shards plus `manifest.json`, so a re-run resumes where it stopped.

Layout: `root/<name>-<run id>/` holds `manifest.json`, `.lock` and one file per shard
(`<shard>.jsonl` or `<shard>.parquet`). The run id is the first 12 hex digits of the sha256 of
the canonical JSON of {config, inputs, format}: the same stage over the same inputs resumes,
while a changed config *or changed upstream data* starts a new directory, so results computed
from different inputs never mix.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from impdist.errors import CorruptStageError, StageConflictError
from impdist.io.atomic import file_lock, remove_stale_temps, sha256_file, write_bytes_atomic, write_error
from impdist.io.readers import read_rows
from impdist.io.writers import FORMATS, ShardInfo, write_rows

MANIFEST = "manifest.json"
LOCK = ".lock"  # flock of manifest read-modify-writes: those of all processes take turns
_MANIFEST_KEYS = ("stage", "format", "status", "shards")  # what every reader of a manifest indexes
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def canonical_json(obj: Any) -> str:
    """Key-sorted compact JSON, the form whose hash identifies a config."""
    def default(o: Any) -> Any:
        if isinstance(o, os.PathLike):
            return os.fspath(o)
        raise TypeError(f"config values must be JSON values or paths, got "
                        f"{type(o).__name__}: {o!r}")
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=default)


def _hash(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _check_name(kind: str, name: str) -> str:
    if not _NAME_RE.match(name) or ".tmp-" in name:
        raise ValueError(f"{kind} name {name!r} must be letters, digits, '_', '-' or '.', "
                         "and not start with '.' or '-'")
    return name


def shard_file(shard: str, fmt: str) -> str:
    """The file name of a shard: `<shard>.<fmt>`."""
    return f"{_check_name('shard', shard)}.{fmt}"


class StageDir:
    """One run directory of a stage; use `open_stage` or `latest_stage` to get one."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._cache = self._load()
        self._verified: dict[str, tuple] = {}  # shard -> (sha, size, mtime, inode) checked

    def __repr__(self) -> str:
        return f"StageDir({str(self._path)!r}, status={self._cache['status']!r})"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def name(self) -> str:
        return self._cache["stage"]

    @property
    def fmt(self) -> str:
        return self._cache["format"]

    @property
    def manifest(self) -> dict:
        """A fresh copy of the manifest as it is on disk now."""
        self.refresh()
        return copy.deepcopy(self._cache)

    @property
    def is_complete(self) -> bool:
        return self.manifest["status"] == "complete"

    def refresh(self) -> None:
        """Re-read the manifest (other processes may have added shards)."""
        self._cache = self._load()

    def _load(self) -> dict:
        mpath = self._path / MANIFEST
        try:
            data = json.loads(mpath.read_bytes())
        except FileNotFoundError:
            raise CorruptStageError(f"{mpath}: missing; {self._path} is not a stage directory "
                                    "(or was not fully created). Delete it and re-run.") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise CorruptStageError(f"{mpath}: unreadable ({e}); it was edited or damaged. Move "
                                    f"{self._path} away to redo this stage.") from None
        missing = [k for k in _MANIFEST_KEYS if k not in data] if isinstance(data, dict) else None
        if missing is None or missing or not isinstance(data["shards"], dict):
            what = f"lacks {', '.join(missing)}" if missing else "is not a manifest object"
            raise CorruptStageError(f"{mpath}: {what}; it was edited or damaged. Move "
                                    f"{self._path} away to redo this stage.")
        return data

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """Lock, yield the manifest as on disk, and write it back if the block ends well."""
        with file_lock(self._path / LOCK):
            manifest = self._load()
            yield manifest
            manifest["updated"] = _now()
            write_bytes_atomic(self._path / MANIFEST, _manifest_bytes(manifest))
            self._cache = manifest

    def shard_path(self, shard: str) -> Path:
        return self._path / shard_file(shard, self.fmt)

    def shards(self) -> list[str]:
        """Names of the recorded shards, sorted (so name them `00000`, `00001`, ...)."""
        return sorted(self._cache["shards"])

    def is_done(self, shard: str) -> bool:
        """True if `shard` is recorded and its file matches the recorded size and sha256."""
        entry = self._cache["shards"].get(shard)
        if entry is None:
            self.refresh()
            entry = self._cache["shards"].get(shard)
        if entry is None:
            return False
        p = self._path / entry["file"]
        try:
            st = p.stat()
        except FileNotFoundError:
            return False
        if st.st_size != entry["bytes"]:
            return False
        key = (entry["sha256"], st.st_size, st.st_mtime_ns, st.st_ino)
        if self._verified.get(shard) != key:
            if sha256_file(p) != entry["sha256"]:
                return False
            self._verified[shard] = key
        return True

    def write_shard(self, shard: str, rows: Iterable[dict]) -> ShardInfo:
        """Write `rows` as `shard` (atomically), then record it in the manifest."""
        info = write_rows(self.shard_path(shard), rows, self.fmt)
        self.record_shard(shard, info)
        return info

    def record_shard(self, shard: str, info: ShardInfo) -> None:
        """Record a shard file already written at `shard_path(shard)` (e.g. by a worker process)."""
        if Path(info.path).resolve() != self.shard_path(shard).resolve():
            raise ValueError(f"{info.path} is not the file of shard {shard!r} "
                             f"({self.shard_path(shard)})")
        with self._locked() as m:
            m["shards"][shard] = {"file": Path(info.path).name, "rows": info.rows,
                                  "sha256": info.sha256, "bytes": info.bytes}
            if m["status"] == "complete":  # a shard was redone: the run is open again
                m["status"] = "running"
                m.pop("completed", None)
        with contextlib.suppress(OSError):
            st = os.stat(info.path)
            self._verified[shard] = (info.sha256, st.st_size, st.st_mtime_ns, st.st_ino)

    def read_shard(self, shard: str) -> Iterator[dict]:
        """Stream a recorded shard's rows, after checking its file still matches the manifest."""
        entry = self._cache["shards"].get(shard) or self.manifest["shards"].get(shard)
        if entry is None:
            raise KeyError(f"{self._path} has no shard {shard!r}; it has {len(self.shards())} "
                           "(see .shards())")
        if not self.is_done(shard):
            raise CorruptStageError(
                f"{self._path / entry['file']}: missing, or changed since it was written (size "
                "or sha256 differs from manifest.json). Re-run the stage to redo that shard; "
                "the other shards are kept.")
        return read_rows(self._path / entry["file"])

    def iter_rows(self) -> Iterator[dict]:
        """Stream the rows of every shard, in shard order."""
        for shard in self.shards():
            yield from self.read_shard(shard)

    def complete(self) -> None:
        """Mark the run complete, so `latest_stage` hands it to the next stage."""
        with self._locked() as m:
            m["status"] = "complete"
            m["completed"] = _now()
        # open_stage keeps the temp files of writers still alive then; a pool worker of a killed run
        # can take a moment to die, so its temp file outlives that check: sweep again now.
        remove_stale_temps(self._path)


def _manifest_bytes(m: dict) -> bytes:
    return (json.dumps(m, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def open_stage(root: str | os.PathLike, name: str, config: Mapping[str, Any],
               inputs: Mapping[str, str] | None = None, *, fmt: str = "jsonl") -> StageDir:
    """Resume the run of stage `name` for this config and inputs, or start a new one."""
    _check_name("stage", name)
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    # Normalized to plain JSON (paths -> str, tuples -> lists): what the manifest holds.
    config, inputs = json.loads(canonical_json(config)), json.loads(canonical_json(inputs or {}))
    ident = {"config": config, "inputs": inputs, "format": fmt}
    run_id = _hash(ident)[:12]
    path = Path(root) / f"{name}-{run_id}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(path, e) from e
    mpath = path / MANIFEST
    with file_lock(path / LOCK):
        if mpath.exists():
            stage = StageDir(path)
            m = stage._cache
            old = {k: m.get(k) for k in ("config", "inputs", "format")}
            if canonical_json(old) != canonical_json(ident):
                raise StageConflictError(
                    f"{mpath}: holds another config or other inputs than this run (same run id "
                    f"{run_id}). Delete {path} or move it away, then re-run.")
        else:
            m = {"stage": name, "run_id": run_id, "config": config, "config_hash": _hash(config),
                 "inputs": inputs, "format": fmt, "status": "running", "created": _now(),
                 "updated": _now(), "shards": {}}
            write_bytes_atomic(mpath, _manifest_bytes(m))
            stage = StageDir(path)
    remove_stale_temps(path)
    return stage


def latest_stage(root: str | os.PathLike, name: str) -> StageDir | None:
    """The most recently completed run of stage `name` under `root`, or None."""
    pattern = re.compile(rf"^{re.escape(name)}-[0-9a-f]{{12}}$")
    best: tuple[str, str] | None = None
    root = Path(root)
    if not root.is_dir():
        return None
    for d in root.iterdir():
        if not pattern.match(d.name):
            continue
        try:
            m = json.loads((d / MANIFEST).read_bytes())
        except (OSError, ValueError):
            continue  # a run still being created, or one a user broke: not a candidate
        if isinstance(m, dict) and m.get("stage") == name and m.get("status") == "complete":
            best = max(best or ("", ""), (m.get("completed", ""), d.name))
    return StageDir(root / best[1]) if best else None


def fingerprint(source: StageDir | str | os.PathLike) -> str:
    """Hex digest of what a downstream stage reads: a stage's shard checksums, or a file."""
    if isinstance(source, StageDir):
        shards = source.manifest["shards"]
    else:
        p = Path(source)
        if p.is_file():
            return sha256_file(p)
        shards = StageDir(p).manifest["shards"]
    return _hash({s: e["sha256"] for s, e in shards.items()})

