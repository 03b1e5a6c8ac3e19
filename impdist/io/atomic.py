"""Durable writes, the one implementation every resume mechanism uses: a file replaced atomically
(temp file, fsync, rename), a directory published atomically (`publish_dir`), file locks
(`acquire`, `file_lock`), the sha256 of a file, and the cleanup of what killed writers left behind.

Temp names are `<name>.tmp-<pid>-<hex>` for files (plus `.spill` for Parquet's first pass) and
`.<name>.tmp-<pid>-<hex>` for directories: the pid tells a cleaner whether the writer is alive.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
from pathlib import Path
from types import TracebackType
from typing import Callable, Iterator

from impdist.errors import WriteError

try:  # POSIX only; elsewhere nothing is locked (one writer at a time is then the rule)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

_TMP_RE = re.compile(r"\.tmp-(\d+)-[0-9a-f]+(\.spill)?$")
_FULL = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


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


def temp_dir_name(path: Path) -> Path:
    """A fresh (hidden) temp directory path next to `path`, for `publish_dir`."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written (os.write may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


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


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under `root` (and `root`), before it is renamed into place."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def acquire(path: Path, *, shared: bool = False, wait: bool = True, create: bool = True) -> int | None:
    """A file descriptor holding a flock (shared or exclusive) on `path`, or None if `wait` is
    False and another process holds a conflicting one. Creates the file if `create` (else a
    missing file raises FileNotFoundError); a read-only file is locked through a read-only
    descriptor. Close the descriptor (`release`) to unlock. The holder of a lock file may delete
    it (an evicted cache entry's, a stage folder whose first write failed): once flocked, the file
    must still be the one at `path`, else this retries, so a lock on a deleted file is never
    trusted."""
    path = Path(path)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0) | os.O_CLOEXEC, 0o644)
        except OSError as e:
            if e.errno not in _READ_ONLY or not path.exists():
                raise
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # flock needs no write access
        try:
            if fcntl is None:  # no flock on this platform
                return fd
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            mine = os.fstat(fd)
            if st is not None and (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder deleted or replaced the file before letting go: lock the new one
        if not create and not path.exists():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))


def release(fd: int) -> None:
    """Unlock and close a descriptor from `acquire`."""
    os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) for the block. The kernel releases
    it when the file closes or the process dies, so a killed holder never blocks anyone; a lock
    file its holder deleted is not trusted (`acquire`)."""
    fd = acquire(Path(path))
    try:
        yield
    finally:
        release(fd)


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
            write_all(self.fd, data)
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
    """Replace `path` with `data` atomically: a reader (or a re-run after a kill) sees the old
    file or the whole new one."""
    with AtomicFile(Path(path)) as f:
        f.write(data)


def publish_dir(build: Callable[[Path], None] | Path, final: Path, *, replace: bool = False) -> Path:
    """Put a directory at `final` atomically and durably; returns `final`.

    `build` is a function that fills the empty temp directory it is given (made beside `final`),
    or such a temp directory already filled. Every file and folder in it is fsynced, it is
    renamed to `final`, and the parent is fsynced. If `final` exists: with `replace`, the old
    directory is renamed aside first and deleted once the new one is in place (a kill in between
    leaves no `final`, and the next publish removes both temps); without, ours is discarded
    (the loser of a race keeps the winner's copy). Temp directories of killed publishes to
    `final` are removed first.
    """
    final = Path(final)
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(final, e) from e
    remove_dead_temps(final)
    if isinstance(build, (str, os.PathLike)):
        tmp = Path(build)
        if tmp.resolve().parent != parent.resolve():
            raise ValueError(f"{tmp} must be a folder beside {final} (so the rename is atomic)")
    else:
        tmp = temp_dir_name(final)
        try:
            tmp.mkdir()
        except OSError as e:
            raise write_error(final, e) from e
        try:
            build(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    aside = None
    try:
        fsync_tree(tmp)
        if replace and final.exists():
            aside = temp_dir_name(final)
            os.replace(final, aside)
        try:
            os.replace(tmp, final)
        except OSError:
            if aside is not None or not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # lost a race: theirs is as good as ours
        fsync_dir(parent)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None and not final.exists():
            os.replace(aside, final)  # put the old one back
            aside = None
        raise write_error(final, e) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    remove_dead_temps(final)  # a killed publisher's, if it was still dying when this one began
    return final


def remove_dir(path: Path) -> None:
    """Delete a directory so that a kill never leaves half of it under its real name: it is
    renamed to a temp name first (which the next cleanup of its folder removes)."""
    path = Path(path)
    aside = temp_dir_name(path)
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    fsync_dir(path.parent)
    shutil.rmtree(aside, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` (the writer named in a temp name) is still running."""
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


def _remove(p: Path) -> bool:
    try:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
        return True
    except OSError:  # gone already, or a folder this process may not write: best effort
        return False


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete temp files and folders in `folder` whose writing process is gone (best effort: in a
    read-only folder they stay); returns those removed."""
    removed = []
    for p in Path(folder).iterdir():
        m = _TMP_RE.search(p.name)
        if m and not pid_alive(int(m.group(1))) and _remove(p):
            removed.append(p)
    return removed


def remove_dead_temps(final: Path) -> list[Path]:
    """Delete the temp folders that killed publishes of `final` left beside it (`publish_dir`'s,
    and the `.<name>.tmp-<pid>[-...]` ones earlier versions wrote), if their process is gone."""
    final = Path(final)
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.tmp-(\d+)(-.*)?$")
    removed = []
    if not final.parent.is_dir():
        return removed
    for p in final.parent.iterdir():
        m = pattern.match(p.name)
        if m and not pid_alive(int(m.group(1))) and _remove(p):
            removed.append(p)
    return removed


def is_temp(name: str) -> bool:
    """True for the name of a temp file or folder written by this module."""
    return _TMP_RE.search(name) is not None
