"""A folder made read-only for a command, as on a read-only disk: a read-only bind mount in a user
namespace when the tests run as root (whom file modes do not stop), else file modes."""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """Yield the argv prefix that runs a command with `folder` read-only (skips the test where this
    machine can do neither, found by trying to write there)."""
    folder = Path(folder)
    if os.geteuid() == 0:
        prefix = ["unshare", "-rm", "sh", "-c", _MOUNT, str(folder)]
        probe = subprocess.run([*prefix, "sh", "-c", 'touch "$1/.probe" 2>/dev/null || echo read-only', "sh",
                                str(folder)], capture_output=True, text=True) if shutil.which("unshare") else None
        (folder / ".probe").unlink(missing_ok=True)
        if probe is None or probe.stdout.strip() != "read-only":
            pytest.skip("cannot make a folder read-only here (root, and no user namespaces)")
        yield prefix
        return
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
    for p, mode in modes.items():
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        try:
            (folder / ".probe").touch()
        except PermissionError:
            yield []
        else:
            (folder / ".probe").unlink()
            pytest.skip("file modes do not stop this user from writing")
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
