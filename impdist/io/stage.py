"""A stage's run directory: its shards plus `manifest.json`, so a re-run resumes where it stopped.

Layout: `root/<name>-<run id>/` holds `manifest.json`, `.lock` and one file per shard
(`<shard>.jsonl` or `<shard>.parquet`). The run id is the first 12 hex digits of the sha256 of
the canonical JSON of {config, inputs, format}: the same stage over the same inputs resumes,
while a changed config *or changed upstream data* starts a new directory, so results computed
from different inputs never mix.

One process writes a stage folder at a time: `.lock` is its writer lock (impdist.io.locks), held
from the first write (`StageDir.claim`) until `complete()`; a second process waits for it (or,
with --no-wait, stops at once), then finds the finished shards done. A finished stage is read
without that lock, so a read-only folder can be read. The folder is made by the first write,
not by `open_stage`, and a first write that fails removes it again: a run refused before it
wrote a shard leaves no folder behind.

A manifest that cannot be read, or that disagrees with its folder (a shard's size, sha256 or
row count; a listed shard file missing; once complete, a shard file it does not list), is
reported as damaged (CorruptStageError), naming the file and the fix.
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
from impdist.io.atomic import is_temp, remove_dir, remove_stale_temps, sha256_file, write_bytes_atomic, write_error
from impdist.io.locks import WRITERS
from impdist.io.manifest import MANIFEST, NAME_RE, damaged, manifest_bytes, read_manifest, shard_digest
from impdist.io.readers import read_rows
from impdist.io.stats import StageStart, write_stats
from impdist.io.writers import FORMATS, ShardInfo, write_rows

LOCK = ".lock"  # the writer lock: one process writes a stage folder at a time (StageDir.claim)
_IDENTITY = ("config", "inputs", "format")  # what the run id hashes


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
    if not NAME_RE.match(name) or ".tmp-" in name:
        raise ValueError(f"{kind} name {name!r} must be letters, digits, '_', '-' or '.', "
                         "and not start with '.' or '-'")
    return name


def shard_file(shard: str, fmt: str) -> str:
    """The file name of a shard: `<shard>.<fmt>`."""
    return f"{_check_name('shard', shard)}.{fmt}"


class StageDir:
    """One run directory of a stage; use `open_stage` or `latest_stage` to get one."""

    def __init__(self, path: str | os.PathLike) -> None:
        """The stage folder at `path`, as its manifest says (CorruptStageError if it is damaged)."""
        self._path = Path(path)
        self._cache = self._load()
        self._on_disk = True
        self._blank: dict | None = None  # the manifest of a new run (open_stage), written by claim()
        self._verified: dict[str, tuple] = {}  # shard -> (sha, rows, size, mtime, inode) checked
        self._claimed = False
        self._made: list[Path] = []  # folders claim() made, top first: removed if the first write fails
        self._start = StageStart.of(self._cache)  # for stats.json: this run's rows and seconds

    @classmethod
    def _new(cls, path: Path, blank: dict) -> StageDir:
        """A run not on disk yet: the first claim() makes its folder and writes `blank`."""
        stage = cls.__new__(cls)
        stage._path, stage._cache, stage._on_disk, stage._blank = path, copy.deepcopy(blank), False, blank
        stage._verified, stage._claimed, stage._made = {}, False, []
        stage._start = StageStart.of(blank)
        return stage

    def __repr__(self) -> str:
        return f"StageDir({str(self._path)!r}, status={self._cache['status']!r})"

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the module may be half gone
            self.release()

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
        """A fresh copy of the manifest as it is on disk now (as it will be, before the first write)."""
        self.refresh()
        return copy.deepcopy(self._cache)

    @property
    def is_complete(self) -> bool:
        return self.manifest["status"] == "complete"

    def refresh(self) -> None:
        """Re-read the manifest (other processes may have added shards, or made the folder)."""
        if not self._on_disk:
            if not (self._path / MANIFEST).is_file():
                return
            self._cache = self._checked(self._load())
            self._on_disk = True
            return
        self._cache = self._load()

    def _load(self) -> dict:
        return read_manifest(self._path)

    def _checked(self, manifest: dict) -> dict:
        """`manifest`, after checking it is this run's (same config, inputs and format)."""
        if self._blank is not None:
            got, want = ({k: m.get(k) for k in _IDENTITY} for m in (manifest, self._blank))
            if canonical_json(got) != canonical_json(want):
                raise StageConflictError(
                    f"{self._path / MANIFEST}: holds another config or other inputs than this run (same run "
                    f"id {self._blank['run_id']}). Delete {self._path} or move it away, then re-run.")
        return manifest

    # --- the writer lock ---------------------------------------------------------------------

    def claim(self) -> None:
        """Become the one process writing this stage, until complete() or release(): wait for a
        process writing it now (or, after impdist.io.locks.set_wait(False), raise BusyError).
        Makes the folder and its manifest on first use, and sweeps temp files of dead writers."""
        if self._claimed:
            return
        for _ in range(100):
            self._make_folder()
            try:
                WRITERS.claim(self._path / LOCK, self._path)
                break
            except FileNotFoundError:
                continue  # the folder went away while we waited (its first write failed): make it again
            except OSError as e:
                raise write_error(self._path / LOCK, e) from e
        else:
            raise CorruptStageError(f"{self._path}: keeps disappearing while this run waits for it; check "
                                    "that no other program deletes it")
        self._claimed = True
        try:
            mpath = self._path / MANIFEST
            if mpath.is_file() or self._blank is None:
                manifest = self._checked(self._load())
            else:
                manifest = {**copy.deepcopy(self._blank), "created": _now(), "updated": _now()}
                write_bytes_atomic(mpath, manifest_bytes(manifest))
            self._cache, self._on_disk = manifest, True
            self._start = StageStart.of(manifest)  # a run that waited starts now, with what it found
            remove_stale_temps(self._path)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """End this object's claim (complete() does): another process may write the stage now."""
        if self._claimed:
            self._claimed = False
            WRITERS.unclaim(self._path / LOCK)

    @contextlib.contextmanager
    def writing(self) -> Iterator[StageDir]:
        """claim() for a block that writes shards. If the block fails, the claim ends, and a
        folder left without any shard is removed, with the run folders made for it."""
        self.claim()
        try:
            yield self
        except BaseException:
            try:
                self._discard_if_unwritten()
            finally:
                self.release()
            raise

    def _make_folder(self) -> None:
        if self._path.is_dir():
            return
        missing, p = [], self._path
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        try:
            self._path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(self._path, e) from e
        self._made += [d for d in reversed(missing) if d not in self._made]

    def _discard_if_unwritten(self) -> None:
        """Remove the folder if no shard was recorded and nothing but the manifest is in it, then
        the (empty) run folders claim() made for it: a failed start leaves nothing behind."""
        try:
            manifest = self._load()
            others = [p for p in self._path.iterdir() if p.name not in (MANIFEST, LOCK) and not is_temp(p.name)]
        except (OSError, CorruptStageError):
            return
        if manifest["shards"] or manifest["status"] == "complete" or others:
            return
        remove_dir(self._path)
        self._on_disk = False
        if self._blank is not None:
            self._cache = copy.deepcopy(self._blank)
        for folder in reversed(self._made):
            if folder != self._path:
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty: another run's folder too
        self._made = []

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """Under the writer lock, yield the manifest as on disk, and write it back if the block
        ends well; a lock claimed here (not held before) ends with the block."""
        held = self._claimed
        self.claim()
        try:
            manifest = self._load()
            yield manifest
            manifest["updated"] = _now()
            write_bytes_atomic(self._path / MANIFEST, manifest_bytes(manifest))
            self._cache = manifest
        finally:
            if not held:
                self.release()

    # --- shards -------------------------------------------------------------------------------

    def shard_path(self, shard: str) -> Path:
        return self._path / shard_file(shard, self.fmt)

    def shards(self) -> list[str]:
        """Names of the recorded shards, sorted (so name them `00000`, `00001`, ...)."""
        return sorted(self._cache["shards"])

    def _problem(self, shard: str) -> str | None:
        """Why `shard` is not done (not recorded; its file missing or not as recorded), or None."""
        entry = self._cache["shards"].get(shard)
        if entry is None:
            self.refresh()
            entry = self._cache["shards"].get(shard)
        if entry is None:
            return "not in manifest.json"
        p = self._path / entry["file"]
        try:
            st = p.stat()
        except FileNotFoundError:
            return "the file is missing"
        if st.st_size != entry["bytes"]:
            return f"it has {st.st_size} bytes, manifest.json says {entry['bytes']}"
        key = (entry["sha256"], entry["rows"], st.st_size, st.st_mtime_ns, st.st_ino)
        if self._verified.get(shard) != key:
            try:
                sha, rows = shard_digest(p, self.fmt)
            except Exception as e:  # noqa: BLE001 - an unreadable file is one more way of not being done
                return f"it cannot be read ({e})"
            if sha != entry["sha256"]:
                return "its sha256 differs from manifest.json's"
            if rows != entry["rows"]:
                return f"it holds {rows} rows, manifest.json says {entry['rows']}"
            self._verified[shard] = key
        return None

    def is_done(self, shard: str) -> bool:
        """True if `shard` is recorded and its file matches the recorded size, sha256 and rows."""
        return self._problem(shard) is None

    def write_shard(self, shard: str, rows: Iterable[dict]) -> ShardInfo:
        """Write `rows` as `shard` (atomically), then record it in the manifest."""
        self.claim()
        info = write_rows(self.shard_path(shard), rows, self.fmt)
        self.record_shard(shard, info)
        return info

    def record_shard(self, shard: str, info: ShardInfo) -> None:
        """Record a shard file already written at `shard_path(shard)` (e.g. by a worker process)."""
        if Path(info.path).resolve() != self.shard_path(shard).resolve():
            raise ValueError(f"{info.path} is not the file of shard {shard!r} "
                             f"({self.shard_path(shard)})")
        self.claim()
        with self._locked() as m:
            m["shards"][shard] = {"file": Path(info.path).name, "rows": info.rows,
                                  "sha256": info.sha256, "bytes": info.bytes}
            if m["status"] == "complete":  # a shard was redone: the run is open again
                m["status"] = "running"
                m.pop("completed", None)
        with contextlib.suppress(OSError):
            st = os.stat(info.path)
            self._verified[shard] = (info.sha256, info.rows, st.st_size, st.st_mtime_ns, st.st_ino)

    def read_shard(self, shard: str) -> Iterator[dict]:
        """Stream a recorded shard's rows, after checking its file still matches the manifest."""
        entry = self._cache["shards"].get(shard) or self.manifest["shards"].get(shard)
        if entry is None:
            raise KeyError(f"{self._path} has no shard {shard!r}; it has {len(self.shards())} "
                           "(see .shards())")
        problem = self._problem(shard)
        if problem is not None:
            raise CorruptStageError(
                f"{self._path / entry['file']}: missing, or changed since it was written ({problem}), so "
                f"{self._path} is damaged. Re-run the stage to redo that shard (the command that wrote "
                f"it; the other shards are kept), or delete {self._path} to redo the whole stage.")
        return read_rows(self._path / entry["file"])

    def _unlisted(self, manifest: dict | None = None) -> list[Path]:
        """Shard files in the folder that the manifest (default: as last read) does not list."""
        listed = {e["file"] for e in (manifest or self._cache)["shards"].values()}
        suffix = f".{self.fmt}"
        return sorted(p for p in self._path.iterdir()
                      if p.name.endswith(suffix) and p.name not in listed and not is_temp(p.name)
                      and NAME_RE.match(p.name[: -len(suffix)]) and p.is_file())

    def iter_rows(self) -> Iterator[dict]:
        """Stream the rows of every shard, in shard order (a complete stage must list every
        shard file in its folder)."""
        self.refresh()
        if self._cache["status"] == "complete" and self._on_disk:
            extra = self._unlisted()
            if extra:
                raise CorruptStageError(
                    f"{extra[0]}: a shard file that {self._path / MANIFEST} does not list (copied in by hand, or "
                    f"left by a killed run), so {self._path} is damaged. Delete that file, or re-run the command "
                    f"that wrote {self._path}.")
        for shard in self.shards():
            yield from self.read_shard(shard)

    def complete(self, *, rows_in: int | None = None, rows_out: int | None = None,
                 dropped: Mapping[str, int] | None = None) -> None:
        """Mark the run complete, so `latest_stage` hands it to the next stage; a run that was not
        complete yet also writes its stats.json (rows_out defaults to all shards' rows; dropped:
        rows dropped per reason; see impdist.io.stats). Ends this object's claim. A stage that is
        complete already, in a folder this process cannot write, is left as it is."""
        self.refresh()
        if self._on_disk and self._cache["status"] == "complete" and not os.access(self._path, os.W_OK):
            return
        try:
            with self._locked() as m:
                ran = m["status"] != "complete"
                m["status"] = "complete"
                m["completed"] = _now()
                # Shard files no run recorded (a run killed between writing and recording one): not
                # part of the stage, and a finished stage must list all its files.
                for p in self._unlisted(m):
                    p.unlink(missing_ok=True)
            if ran:
                write_stats(self._path, m, self._start, rows_in=rows_in, rows_out=rows_out, dropped=dropped)
            # open_stage keeps the temp files of writers still alive then; a pool worker of a killed run
            # can take a moment to die, so its temp file outlives that check: sweep again now.
            remove_stale_temps(self._path)
        finally:
            self.release()


def open_stage(root: str | os.PathLike, name: str, config: Mapping[str, Any],
               inputs: Mapping[str, str] | None = None, *, fmt: str = "jsonl") -> StageDir:
    """Resume the run of stage `name` for this config and inputs, or start a new one, whose folder
    the first write makes (StageDir.claim): opening writes nothing."""
    _check_name("stage", name)
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    # Normalized to plain JSON (paths -> str, tuples -> lists): what the manifest holds.
    config, inputs = json.loads(canonical_json(config)), json.loads(canonical_json(inputs or {}))
    ident = {"config": config, "inputs": inputs, "format": fmt}
    run_id = _hash(ident)[:12]
    path = Path(root) / f"{name}-{run_id}"
    blank = {"stage": name, "run_id": run_id, "config": config, "config_hash": _hash(config),
             "inputs": inputs, "format": fmt, "status": "running", "created": _now(),
             "updated": _now(), "shards": {}}
    if not (path / MANIFEST).is_file():
        return StageDir._new(path, blank)
    stage = StageDir(path)
    stage._blank = blank
    stage._checked(stage._cache)
    remove_stale_temps(path)  # best effort: only those of writers that are gone
    return stage


def stage_runs(root: str | os.PathLike, name: str) -> list[StageDir]:
    """Every run folder of stage `name` under `root` (none if `root` is no folder). A damaged
    one raises CorruptStageError naming it, rather than being passed over."""
    pattern = re.compile(rf"^{re.escape(name)}-[0-9a-f]{{12}}$")
    root = Path(root)
    if pattern.match(root.name) and root.is_dir() and not (root / MANIFEST).exists():
        StageDir(root)  # a stage folder whose manifest is gone: say so
    if not root.is_dir():
        return []
    runs = []
    for d in sorted(root.iterdir()):
        if not pattern.match(d.name) or not d.is_dir():
            continue
        if not (d / MANIFEST).exists() and not any(p.suffix in (".jsonl", ".parquet") for p in d.iterdir()):
            continue  # an earlier impdist killed between making a folder and its manifest: nothing in it
        stage = StageDir(d)
        if stage.name != name:
            raise damaged(d / MANIFEST, f"it is the manifest of stage {stage.name!r}, not {name!r}")
        runs.append(stage)
    return runs


def latest_stage(root: str | os.PathLike, name: str) -> StageDir | None:
    """The most recently completed run of stage `name` under `root`, or None (CorruptStageError
    if a run of it is damaged)."""
    done = [s for s in stage_runs(root, name) if s._cache["status"] == "complete"]
    return max(done, key=lambda s: (s._cache.get("completed", ""), s.path.name), default=None)


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
