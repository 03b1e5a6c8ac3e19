"""The artefact cache: derived files (fp32 copies, ONNX graphs, converted data sets, trained judges)
built once under IMPDIST_CACHE, and kept under a size limit.

An artefact lives in ``cache_dir()/<kind>/<slug>-<key>/`` where the key hashes the source's
identity and the build options. It is published with ``impdist.io.atomic.publish_dir`` (built in
a temp directory beside its final place, fsynced, renamed into place), so a reader never sees a
half-built artefact; a lock file (``.<entry>.lock``) makes a second process wait for the first
one's build instead of repeating it (and where locking is unavailable, the loser of the rename
race discards its copy).

Every entry is derived from its source, so any entry may go: its next use rebuilds it. After each
build the least recently used entries are deleted until the cache fits IMPDIST_CACHE_LIMIT
(DEFAULT_LIMIT unless set). An entry a running process has used is never deleted under it: a use
takes a shared flock on ``.<entry>.used.lock``, held until the process ends, and touches that
file, whose mtime is the entry's last use; eviction takes the lock exclusively without waiting,
so an entry in use is skipped. `entries` and `prune` (``impdist cache list|prune``) show and free
the cache by hand.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from impdist.errors import ImpdistError, InvalidValueError
from impdist.io.atomic import acquire, file_lock, is_temp, publish_dir, release, remove_dir, remove_stale_temps

LIMIT_ENV = "IMPDIST_CACHE_LIMIT"
DEFAULT_LIMIT = "20GB"  # about twenty trained students' ONNX graphs (fp32 + int8) beside the embedded models
_NO_LIMIT = ("none", "off", "unlimited")
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_pinned: dict[Path, int] = {}  # entry -> descriptor of its shared use lock, held by this process
_pin_mutex = threading.Lock()


def cache_root() -> Path:
    """The cache root, $IMPDIST_CACHE or ~/.cache/impdist, without making it."""
    return Path(os.environ.get("IMPDIST_CACHE") or Path.home() / ".cache" / "impdist").expanduser()


def cache_dir() -> Path:
    """The cache root (created on first use)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


def parse_size(text: str) -> int:
    """Bytes in a size such as 20GB, 500MB, 1.5GiB or 0: K/M/G/T(B) are powers of 1000,
    KiB/MiB/GiB/TiB powers of 1024, a bare number is bytes."""
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size; write e.g. 20GB, 500MB or 1.5GiB")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(n: int) -> str:
    """`n` bytes in the largest decimal unit under it: 0 B, 912.4 MB, 20.0 GB."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def cache_limit() -> int | None:
    """The cache's size limit in bytes: $IMPDIST_CACHE_LIMIT (e.g. 20GB, or 'none' for no limit),
    else DEFAULT_LIMIT."""
    text = os.environ.get(LIMIT_ENV, "").strip() or DEFAULT_LIMIT
    if text.lower() in _NO_LIMIT:
        return None
    try:
        return parse_size(text)
    except ValueError as e:
        raise InvalidValueError(f"{LIMIT_ENV}={text!r}: {e}, or 'none' for no limit") from None


def cache_key(source: str, **options: object) -> str:
    """A short hash of a source identity and the options that change the artefact."""
    blob = json.dumps({"source": source, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def dir_identity(path: Path) -> str:
    """Identity of a local model directory: its real path and every file's size and mtime."""
    path = path.resolve()
    entries = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            st = p.stat()
            entries.append(f"{rel.as_posix()}:{st.st_size}:{st.st_mtime_ns}")
    return f"dir:{path}:" + hashlib.sha256("\n".join(entries).encode()).hexdigest()[:20]


def artefact(kind: str, name: str, key: str, build: Callable[[Path], None]) -> Path:
    """The directory of artefact `kind/name-key`, calling build(tmp_dir) once if it is missing.

    build() writes the artefact's files into the empty directory it is given; it is renamed to
    its final place only after build() returns and every file is fsynced. The entry stays this
    process's (never evicted) until it ends; after a build, older entries go until the cache
    fits its limit.
    """
    limit = cache_limit()  # a bad IMPDIST_CACHE_LIMIT is refused before anything is built
    parent = cache_dir() / kind
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / f"{_slug(name)}-{key}"
    for _ in range(10):
        if final.is_dir() and _use(final):
            return final
        built = False
        with file_lock(parent / f".{final.name}.lock"):
            if not final.is_dir():  # else another process built it while we waited for the lock
                # Temp folders of builds by impdist before publish_dir; publish_dir removes its own.
                for stale in parent.glob(f".tmp-{final.name}-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                publish_dir(build, final)
                built = True
        if _use(final):
            if built and limit is not None:
                with contextlib.suppress(OSError):  # best effort: a cache over its limit still works
                    prune(limit)
            return final
    raise ImpdistError(f"{final}: another process keeps evicting this cache entry before it can be used; "
                            f"raise {LIMIT_ENV} (now {format_size(limit or 0)})")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[-60:] or "model"


def _use_file(entry: Path) -> Path:
    """The use lock of an entry, beside it: its mtime is the entry's last use."""
    return entry.with_name(f".{entry.name}.used.lock")


def _use(entry: Path) -> bool:
    """Record a use of `entry` and keep it from eviction while this process runs (a shared lock on
    its use file); False if it was evicted meanwhile."""
    use = _use_file(entry)
    with _pin_mutex:
        if entry not in _pinned:
            try:
                fd = acquire(use, shared=True)
            except OSError:  # a read-only cache: nothing evicts from it either
                return entry.is_dir()
            if not entry.is_dir():
                release(fd)
                return False
            _pinned[entry] = fd
    with contextlib.suppress(OSError):
        os.utime(use)
    return True


# --- what is in the cache, and freeing it -----------------------------------------------------

@dataclass(frozen=True)
class CacheEntry:
    """One artefact in the cache."""

    path: Path
    bytes: int
    last_used: float  # seconds since the epoch: its last use, or its build
    in_use: bool  # a running process has used it, so it cannot be evicted now

    @property
    def kind(self) -> str:
        return self.path.parent.name


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def _in_use(entry: Path) -> bool:
    try:
        fd = acquire(_use_file(entry), wait=False, create=False)
    except OSError:  # never used since it was built (no use file), or unreadable
        return False
    if fd is None:
        return True
    release(fd)
    return False


def _last_use(entry: Path) -> float:
    for p in (_use_file(entry), entry):
        with contextlib.suppress(OSError):
            return p.stat().st_mtime
    return 0.0


def entries() -> list[CacheEntry]:
    """Every entry in the cache, least recently used first."""
    root = cache_root()
    found = []
    for kind in sorted(root.iterdir()) if root.is_dir() else []:
        if kind.name.startswith(".") or not kind.is_dir():
            continue
        for d in kind.iterdir():
            if not d.name.startswith(".") and not is_temp(d.name) and d.is_dir() and not d.is_symlink():
                found.append(CacheEntry(d, _size(d), _last_use(d), _in_use(d)))
    return sorted(found, key=lambda e: (e.last_used, str(e.path)))


def _evict(entry: Path) -> bool:
    """Delete `entry` unless a process uses it (or it cannot be deleted); whether it went."""
    use = _use_file(entry)
    try:
        fd = acquire(use, wait=False)
    except OSError:
        return False
    if fd is None:
        return False
    try:
        if not entry.is_dir():
            return False
        remove_dir(entry)  # renamed aside first: a kill never leaves half an entry under its name
        for lock in (use, entry.with_name(f".{entry.name}.lock")):
            lock.unlink(missing_ok=True)  # the next locker sees the file is gone and makes a new one
        return True
    except OSError:
        return False
    finally:
        release(fd)


@dataclass(frozen=True)
class Pruned:
    """What `prune` removed, and what is left."""

    removed: list[CacheEntry]
    left: list[CacheEntry]
    target: int | None

    def __str__(self) -> str:
        freed = sum(e.bytes for e in self.removed)
        left = sum(e.bytes for e in self.left)
        busy = sum(e.in_use for e in self.left)
        line = (f"removed {len(self.removed)} entries ({format_size(freed)}); the cache holds {format_size(left)} in "
                f"{len(self.left)} entries")
        if self.target is not None and left > self.target:
            line += f", over the {format_size(self.target)} asked for: {busy} in use by running processes"
        return line


def prune(to: int | None = None) -> Pruned:
    """Delete the least recently used entries until the cache holds at most `to` bytes (default:
    its limit; 0 empties it); entries in use by a running process stay."""
    target = cache_limit() if to is None else to
    items = entries()
    for kind in {e.path.parent for e in items}:
        remove_stale_temps(kind)  # what killed builds and evictions left
    total = sum(e.bytes for e in items)
    removed, left = [], []
    for e in items:  # least recently used first
        if target is not None and total > target and _evict(e.path):
            removed.append(e)
            total -= e.bytes
        else:
            left.append(e)
    left = [CacheEntry(e.path, e.bytes, e.last_used, _in_use(e.path)) for e in left]
    return Pruned(removed, left, target)


def format_entries(items: list[CacheEntry], limit: int | None) -> str:
    """`impdist cache list`: one line per entry (size, last use, whether in use), least recently
    used first, then the total against the limit."""
    root = cache_root()
    lines = [f"{'SIZE':>9}  {'LAST USED':16}  {'IN USE':6}  ENTRY"]
    for e in items:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
        lines.append(f"{format_size(e.bytes):>9}  {when:16}  {'yes' if e.in_use else '':6}  "
                     f"{e.path.relative_to(root).as_posix()}")
    total = sum(e.bytes for e in items)
    cap = "no limit" if limit is None else f"limit {format_size(limit)}"
    lines.append(f"{format_size(total)} in {len(items)} entries under {root} ({cap}; set {LIMIT_ENV} to change it)")
    return "\n".join(lines)
