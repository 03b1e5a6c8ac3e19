"""The artefact cache: derived files (fp32 copies, ONNX graphs) built once under IMPDIST_CACHE.

An artefact lives in ``cache_dir()/<kind>/<slug>-<key>/`` where the key hashes the source's
identity and the build options. It is published with ``impdist.io.atomic.publish_dir`` (built in
a temp directory beside its final place, fsynced, renamed into place), so a reader never sees a
half-built artefact; a lock file makes a second process wait for the first one's build instead
of repeating it (and where locking is unavailable, the loser of the rename race discards its copy).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable

from impdist.io.atomic import file_lock, publish_dir


def cache_dir() -> Path:
    """The cache root: $IMPDIST_CACHE, or ~/.cache/impdist (created on first use)."""
    root = Path(os.environ.get("IMPDIST_CACHE") or Path.home() / ".cache" / "impdist").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


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
    its final place only after build() returns and every file is fsynced.
    """
    parent = cache_dir() / kind
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / f"{_slug(name)}-{key}"
    if final.is_dir():
        return final
    with file_lock(parent / f".{final.name}.lock"):
        if final.is_dir():  # another process built it while we waited for the lock
            return final
        # Temp folders of builds by impdist before publish_dir; publish_dir removes its own.
        for stale in parent.glob(f".tmp-{final.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return publish_dir(build, final)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[-60:] or "model"
