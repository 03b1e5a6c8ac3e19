"""The artefact cache: derived files (fp32 copies, ONNX graphs) built once under IMPDIST_CACHE.

An artefact lives in ``cache_dir()/<kind>/<slug>-<key>/`` where the key hashes the source's
identity and the build options. It is built in a temporary directory beside its final place,
fsynced, and renamed into place with ``os.replace``, so a reader never sees a half-built
artefact; a lock file makes a second process wait for the first one's build instead of
repeating it (and if locking is unavailable, the loser of the rename race discards its copy).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

try:  # POSIX only; elsewhere two racing builds both run and one rename wins
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def cache_dir() -> Path:
    """The cache root: $IMPDIST_CACHE, or ~/.cache/impdist (created on first use)."""
    root = Path(os.environ.get("IMPDIST_CACHE") or Path.home() / ".cache" / "impdist").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_key(source: str, **options: object) -> str:
    """A short hash of a source identity and the options that change the artefact."""
    blob = json.dumps({"source": source, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (used for single-file sources such as a GGUF)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


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
    its final place only after build() returns and every file is fsynced.
    """
    parent = cache_dir() / kind
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / f"{_slug(name)}-{key}"
    if final.is_dir():
        return final
    with _lock(parent / f".{final.name}.lock"):
        if final.is_dir():  # another process built it while we waited for the lock
            return final
        if fcntl is not None:  # we hold the lock: any temp dir of this artefact is a dead build's
            for stale in parent.glob(f".tmp-{final.name}-*"):
                shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=parent))
        try:
            build(tmp)
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o777 & ~umask)  # mkdtemp made it private; the cache is the user's to share
            _fsync_tree(tmp)
            try:
                os.replace(tmp, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # lost a lock-less race: theirs is as good
            _fsync_dir(parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[-60:] or "model"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
