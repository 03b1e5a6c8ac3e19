"""Atomic writes: a failure at any point leaves the previous file intact and no temp file."""
from __future__ import annotations

import errno
import os

import pytest

from impdist.errors import ImpdistError, WriteError
from impdist.io import open_stage, read_rows, write_rows

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
