"""Atomic file writes (temp file, fsync, rename) and cleanup of temp files left by killed runs."""
from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
from pathlib import Path
from types import TracebackType

from impdist.errors import WriteError

# `<name>.tmp-<pid>-<hex>` (plus `.spill` for Parquet's first pass); the pid tells a cleaner
# whether the writer is still alive.
_TMP_RE = re.compile(r"\.tmp-(\d+)-[0-9a-f]+(\.spill)?$")
_FULL = (errno.ENOSPC, errno.EDQUOT)


def write_error(path: Path, err: OSError) -> WriteError:
    """A WriteError for `path` that says what went wrong and what the user can do."""
    if err.errno in _FULL:
        why = ("the disk is full (no space left on device or quota exceeded); free some space "
               "or write to another disk")
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = f"no permission to write there ({err.strerror}); choose a writable folder"
    else:
        why = f"{err.strerror or err}; check the folder exists and is writable"
    return WriteError(f"cannot write {path}: {why}. Files written before are intact; "
                      "re-run the same command to resume.")


def temp_name(path: Path, suffix: str = "") -> Path:
    """A fresh temp path next to `path`, in the same folder so the final rename is atomic."""
    return path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: some filesystems refuse it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class TempFile:
    """A write-only temp file next to `path` that hashes and counts what goes through it."""

    def __init__(self, path: Path, suffix: str = "") -> None:
        self.path = Path(path)
        self.tmp = temp_name(self.path, suffix)
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.closed = False
        try:
            self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as e:
            raise write_error(self.path, e) from e

    # The file-like trio pyarrow's writer needs.
    def write(self, data: bytes | memoryview) -> int:
        if self.closed:  # the fd number may belong to another file by now
            raise ValueError(f"write to closed temp file {self.tmp}")
        try:
            _write_all(self.fd, data)
        except OSError as e:
            raise write_error(self.path, e) from e
        self.sha.update(data)
        self.bytes += len(data)
        return len(data)

    def tell(self) -> int:
        return self.bytes

    def flush(self) -> None:
        pass  # unbuffered: every write() already reached the OS

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    def discard(self) -> None:
        """Close and delete the temp file; never raises, as it runs while another error unwinds."""
        try:
            self.close()
        except OSError:
            pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


class AtomicFile(TempFile):
    """`with AtomicFile(p) as f: f.write(...)` replaces `p` only if the block finishes."""

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, typ: type | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if typ is not None:
            self.discard()
            return
        try:
            os.fsync(self.fd)
            self.close()
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            raise write_error(self.path, e) from e
        except BaseException:
            self.discard()
            raise
        fsync_dir(self.path.parent)

    @property
    def sha256(self) -> str:
        return self.sha.hexdigest()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (used for manifests)."""
    with AtomicFile(path) as f:
        f.write(data)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) would kill it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child nobody has reaped yet is a zombie: dead for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete temp files in `folder` whose writing process is gone; returns what was removed."""
    removed = []
    for p in Path(folder).iterdir():
        m = _TMP_RE.search(p.name)
        if m and not _pid_alive(int(m.group(1))):
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed


def is_temp(name: str) -> bool:
    """True for the name of a temp file written by this module."""
    return _TMP_RE.search(name) is not None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
