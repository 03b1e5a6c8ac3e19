"""The writer lock of stage folders: one process writes a stage folder at a time.

`WRITERS` holds this process's writer locks (flocks taken with impdist.io.atomic.acquire):
reentrant within the process (several StageDir objects of one folder share one), and either
waiting for the process that holds one (the default) or, after `set_wait(False)` (the CLI's
--no-wait), refusing at once with a BusyError.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from impdist.errors import BusyError
from impdist.io.atomic import acquire, release

_log = logging.getLogger(__name__)
_wait = True


def set_wait(wait: bool) -> None:
    """Whether a process that finds a stage folder being written waits for the writer (the
    default) or raises BusyError at once (`impdist ... --no-wait`)."""
    global _wait
    _wait = bool(wait)


def holder(path: Path) -> str:
    """' (pid N)' for the process that last wrote its pid into lock file `path`, or ''."""
    try:
        pid = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


class Writers:
    """The writer locks this process holds, by lock file: acquired once per process, counted."""

    def __init__(self) -> None:
        self._held: dict[Path, list[int]] = {}  # lock file -> [fd, holders]
        self._mutex = threading.RLock()  # reentrant: a StageDir collected while it is held releases its claim

    def claim(self, lock: Path, folder: Path) -> None:
        """Hold the writer lock `lock` of `folder`: at once if this process holds it already;
        else wait for the process that does (logging that it waits) or, with set_wait(False),
        raise BusyError naming it. The holder's pid is written into the lock file for that line."""
        key = Path(os.path.abspath(lock))
        with self._mutex:
            if key in self._held:
                self._held[key][1] += 1
                return
            fd = acquire(key, wait=False)
            if fd is not None:
                self._hold(key, fd)
                return
        who = holder(key)
        if not _wait:
            raise BusyError(f"{folder}: another impdist process{who} is writing it now; wait for it to "
                            "finish, or run this command without --no-wait to wait for it")
        _log.warning("waiting for another impdist process%s to finish writing %s", who, folder)
        fd = acquire(key)  # outside the mutex: this process's other locks stay free meanwhile
        with self._mutex:
            self._hold(key, fd)

    def _hold(self, key: Path, fd: int) -> None:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a read-only lock file: the pid is only for the waiting line
        self._held[key] = [fd, 1]

    def unclaim(self, lock: Path) -> None:
        """Give up one hold of `lock`; the last one unlocks it."""
        key = Path(os.path.abspath(lock))
        with self._mutex:
            entry = self._held.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del self._held[key]
                release(entry[0])


WRITERS = Writers()
