"""Atomic writes: a failure at any point leaves the previous file intact and no temp file; directories
published atomically (fsync before rename); the lock; the cleanup of what killed writers left."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from impdist.errors import ImpdistError, WriteError
from impdist.io import atomic, open_stage, read_rows, write_rows

OLD = [{"id": "old", "scores": {"rougeL": 0.5}}]
NEW = [{"id": f"new{i}", "scores": {"rougeL": i / 3}} for i in range(50)]
FMTS = ["jsonl", "parquet"]


def _setup(tmp_path, fmt):
    path = tmp_path / f"shard.{fmt}"
    write_rows(path, OLD)
    return path, path.read_bytes()


def _assert_untouched(tmp_path, path, before):
    assert path.read_bytes() == before
    assert list(read_rows(path)) == OLD
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no *.tmp-* left


def _fail_with(err):
    def fail(*args, **kwargs):
        raise err
    return fail


@pytest.mark.parametrize("fmt", FMTS)
def test_crash_at_rename_keeps_the_old_file(tmp_path, monkeypatch, fmt):
    path, before = _setup(tmp_path, fmt)
    monkeypatch.setattr(os, "replace", _fail_with(OSError(errno.EIO, "Input/output error")))
    with pytest.raises(WriteError, match=rf"cannot write {path}: Input/output error"):
        write_rows(path, NEW)
    monkeypatch.undo()
    _assert_untouched(tmp_path, path, before)


@pytest.mark.parametrize("fmt", FMTS)
def test_crash_in_the_producer_keeps_the_old_file(tmp_path, fmt):
    path, before = _setup(tmp_path, fmt)

    def rows():
        yield from NEW[:10]
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):  # not turned into a WriteError
        write_rows(path, rows())
    _assert_untouched(tmp_path, path, before)


@pytest.mark.parametrize("fmt", FMTS)
def test_interrupt_keeps_the_old_file(tmp_path, fmt):
    path, before = _setup(tmp_path, fmt)

    def rows():
        yield NEW[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_rows(path, rows())
    _assert_untouched(tmp_path, path, before)


def test_producer_oserror_is_not_a_write_error(tmp_path):
    def rows():
        yield NEW[0]
        raise FileNotFoundError(errno.ENOENT, "No such file", "model.gguf")

    with pytest.raises(FileNotFoundError) as e:
        write_rows(tmp_path / "s.jsonl", rows())
    assert not isinstance(e.value, ImpdistError)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("call", ["write", "fsync"])
def test_disk_full(tmp_path, monkeypatch, fmt, call):
    path, before = _setup(tmp_path, fmt)
    monkeypatch.setattr(os, call, _fail_with(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(WriteError) as e:
        write_rows(path, NEW)
    monkeypatch.undo()
    msg = str(e.value)
    assert f"cannot write {path}: the disk is full" in msg and "free some space" in msg
    assert isinstance(e.value.__cause__, OSError) and e.value.__cause__.errno == errno.ENOSPC
    _assert_untouched(tmp_path, path, before)


def test_disk_full_mid_stream(tmp_path, monkeypatch):
    """The first 1 MiB chunk reaches the disk, the second does not."""
    path, before = _setup(tmp_path, "jsonl")
    real_write, calls = os.write, []

    def write(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    rows = ({"id": i, "text": "x" * 1000} for i in range(3000))
    with pytest.raises(WriteError, match="disk is full"):
        write_rows(path, rows)
    monkeypatch.undo()
    assert len(calls) == 2
    _assert_untouched(tmp_path, path, before)


def test_no_permission(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "open", _fail_with(PermissionError(errno.EACCES, "Permission denied")))
    with pytest.raises(WriteError, match=r"cannot write .*s.jsonl: no permission .*writable folder"):
        write_rows(tmp_path / "s.jsonl", OLD)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_failed_shard_write_leaves_the_manifest_alone(tmp_path, monkeypatch):
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    stage.write_shard("00000", OLD)
    manifest = (stage.path / "manifest.json").read_bytes()
    monkeypatch.setattr(os, "write", _fail_with(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(WriteError, match="00001.jsonl: the disk is full"):
        stage.write_shard("00001", NEW)
    monkeypatch.undo()
    assert (stage.path / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in stage.path.iterdir()) == [".lock", "00000.jsonl", "manifest.json"]
    assert stage.is_done("00000") and not stage.is_done("00001")


# --- publish_dir, file_lock and the cleanup of what killed writers left -------------------------

def _dead_pid() -> int:
    import subprocess
    import sys

    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _fill(files):
    def build(tmp):
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
    return build


def test_publish_dir_fsyncs_every_file_and_folder_before_the_rename(tmp_path, monkeypatch):
    final = tmp_path / "art"
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    assert atomic.publish_dir(_fill({"a.bin": b"a", "sub/b.txt": b"b"}), final) == final
    monkeypatch.undo()
    assert _tree(final) == {"a.bin": b"a", "sub/b.txt": b"b"}
    (rename,) = [e for e in events if e[0] == "replace"]
    tmp = rename[1]
    assert rename[2] == str(final) and Path(tmp).parent == tmp_path and atomic.is_temp(Path(tmp).name)
    before = {e[1] for e in events[:events.index(rename)]}
    assert {f"{tmp}/a.bin", f"{tmp}/sub/b.txt", f"{tmp}/sub", tmp} <= before  # files and folders
    assert ("fsync", str(tmp_path)) in events[events.index(rename):]  # then the parent, for the rename
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


def test_publish_dir_replaces_an_old_directory_or_keeps_it_on_failure(tmp_path, monkeypatch):
    final = tmp_path / "export"
    atomic.publish_dir(_fill({"old.txt": b"old"}), final)
    atomic.publish_dir(_fill({"new.txt": b"new"}), final, replace=True)
    assert _tree(final) == {"new.txt": b"new"} and [p.name for p in tmp_path.iterdir()] == ["export"]

    def broken(tmp):
        (tmp / "half").write_bytes(b"x")
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError, match="build failed"):
        atomic.publish_dir(broken, final, replace=True)
    assert _tree(final) == {"new.txt": b"new"} and [p.name for p in tmp_path.iterdir()] == ["export"]

    real, calls = os.replace, []

    def second_rename_fails(src, dst):  # the old one is moved aside, then the new one cannot move in
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(WriteError, match=rf"cannot write {final}: Input/output error"):
        atomic.publish_dir(_fill({"newer.txt": b"x"}), final, replace=True)
    monkeypatch.undo()
    assert _tree(final) == {"new.txt": b"new"} and [p.name for p in tmp_path.iterdir()] == ["export"]


def test_the_loser_of_a_race_keeps_the_winners_copy(tmp_path):
    final = tmp_path / "art"

    def build(tmp):
        (tmp / "data").write_bytes(b"loser")
        final.mkdir()
        (final / "data").write_bytes(b"winner")  # another process published first

    assert atomic.publish_dir(build, final) == final
    assert _tree(final) == {"data": b"winner"} and [p.name for p in tmp_path.iterdir()] == ["art"]


def test_publish_dir_takes_a_temp_dir_built_beforehand(tmp_path):
    final = tmp_path / "art"
    tmp = atomic.temp_dir_name(final)
    tmp.mkdir()
    (tmp / "f").write_bytes(b"1")
    atomic.publish_dir(tmp, final)
    assert _tree(final) == {"f": b"1"} and not tmp.exists()
    elsewhere = tmp_path / "sub" / "x"
    elsewhere.mkdir(parents=True)
    with pytest.raises(ValueError, match="must be a folder beside"):
        atomic.publish_dir(elsewhere, final)


def test_temps_of_killed_publishes_are_removed_and_live_or_foreign_ones_kept(tmp_path):
    dead = _dead_pid()
    final = tmp_path / "out"
    stale = [f".out.tmp-{dead}-1a2b3c4d", f".out.tmp-{dead}", f".out.tmp-{dead}-old"]  # ours, and older versions'
    kept = [".out.tmp-1-1a2b3c4d", ".other.tmp-1", f".other.tmp-{dead}-00ff00ff"]  # pid 1 lives; another's
    for name in stale + kept:
        (tmp_path / name).mkdir()
        (tmp_path / name / "half").write_bytes(b"x")
    atomic.publish_dir(_fill({"f": b"1"}), final)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["out"])
    assert {p.name for p in atomic.remove_stale_temps(tmp_path)} == {f".other.tmp-{dead}-00ff00ff"}  # folders too


def test_remove_dir_never_leaves_half_a_directory_under_its_name(tmp_path, monkeypatch):
    d = tmp_path / "step-000003"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "w").write_bytes(b"w")
    seen = []
    real = atomic.shutil.rmtree
    monkeypatch.setattr(atomic.shutil, "rmtree", lambda p, **kw: (seen.append(Path(p)), real(p, **kw)))
    atomic.remove_dir(d)
    assert list(tmp_path.iterdir()) == [] and seen and all(atomic.is_temp(p.name) for p in seen)
    atomic.remove_dir(d)  # already gone: nothing to do


def test_file_lock_excludes_other_holders_until_released(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    lock = tmp_path / ".lock"

    def try_lock():
        with open(lock, "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

    with atomic.file_lock(lock):
        assert not try_lock()
    assert try_lock()


def test_sha256_file(tmp_path):
    import hashlib

    p = tmp_path / "f"
    p.write_bytes(b"x" * (3 << 20))
    assert atomic.sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()
