"""Stage run directories: naming by config, resume, corruption detection, manifest locking."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from impdist.errors import CorruptStageError, StageConflictError
from impdist.io import fingerprint, latest_stage, open_stage, read_rows
from tests.io._workers import make_rows, write_many

CFG = {"model": "smollm2-135m", "top_p": 0.9, "n": 4}


def test_run_dir_is_named_by_config_and_resumed(tmp_path):
    a = open_stage(tmp_path, "generate", CFG, {"contexts": "abc"})
    assert a.path.parent == tmp_path and a.path.name.startswith("generate-")
    assert len(a.path.name) == len("generate-") + 12
    m = a.manifest
    assert (m["config"], m["inputs"], m["status"], m["shards"]) == (CFG, {"contexts": "abc"}, "running", {})
    a.write_shard("00000", make_rows((0, 3)))
    b = open_stage(tmp_path, "generate", dict(reversed(list(CFG.items()))), {"contexts": "abc"})
    assert b.path == a.path and b.shards() == ["00000"] and b.is_done("00000")


@pytest.mark.parametrize("change", [
    {"config": {**CFG, "top_p": 0.95}}, {"inputs": {"contexts": "abd"}}, {"fmt": "parquet"}])
def test_a_changed_config_or_input_starts_a_new_run(tmp_path, change):
    a = open_stage(tmp_path, "generate", CFG, {"contexts": "abc"})
    kw = {"config": CFG, "inputs": {"contexts": "abc"}, **change}
    b = open_stage(tmp_path, "generate", **kw)
    assert b.path != a.path and b.shards() == []
    assert len(list(tmp_path.iterdir())) == 2


def test_config_may_hold_paths_but_not_objects(tmp_path):
    a = open_stage(tmp_path, "g", {"model": tmp_path / "m.gguf"}, {})
    assert open_stage(tmp_path, "g", {"model": str(tmp_path / "m.gguf")}, {}).path == a.path
    with pytest.raises(TypeError, match="config values must be JSON values"):
        open_stage(tmp_path, "g", {"fn": object()}, {})
    with pytest.raises(ValueError, match="NaN|Out of range"):
        open_stage(tmp_path, "g", {"x": float("nan")}, {})


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_shards_rows_and_is_done(tmp_path, fmt):
    s = open_stage(tmp_path, "gen", CFG, {}, fmt=fmt)
    assert not s.is_done("00001")
    for i in (2, 0, 1):
        info = s.write_shard(f"{i:05d}", make_rows((i, 4)))
        assert info.path == s.path / f"{i:05d}.{fmt}" and info.rows == 4
    assert s.shards() == ["00000", "00001", "00002"]
    assert list(s.iter_rows()) == [r for i in range(3) for r in make_rows((i, 4))]
    entry = s.manifest["shards"]["00001"]
    assert entry == {"file": f"00001.{fmt}", "rows": 4, "sha256": info.sha256,  # last written
                     "bytes": (s.path / f"00001.{fmt}").stat().st_size}
    assert info.sha256 == hashlib.sha256(info.path.read_bytes()).hexdigest()
    assert all(s.is_done(x) for x in s.shards())


def test_corrupt_or_missing_shard_is_not_done(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {})
    for i in range(3):
        s.write_shard(f"{i:05d}", make_rows((i, 4)))
    p0, p1 = s.shard_path("00000"), s.shard_path("00001")
    data = bytearray(p0.read_bytes())
    data[5] ^= 1  # same size, different bytes: only the checksum can tell
    p0.write_bytes(bytes(data))
    p1.unlink()
    (s.path / "00009.jsonl").write_bytes(s.shard_path("00002").read_bytes())  # no manifest entry
    fresh = open_stage(tmp_path, "gen", CFG, {})
    assert [fresh.is_done(f"{i:05d}") for i in (0, 1, 2, 9)] == [False, False, True, False]
    with pytest.raises(CorruptStageError, match=r"00000.jsonl: missing, or changed since it was written.*Re-run"):
        fresh.read_shard("00000")
    with pytest.raises(KeyError, match="no shard '00009'"):
        fresh.read_shard("00009")


def test_stale_temp_files_are_removed_on_open(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = s.path / f"00000.jsonl.tmp-{dead}-1a2b3c4d"
    stale_spill = s.path / f"00001.parquet.tmp-{dead}-00ff00ff.spill"
    live = s.path / "00002.jsonl.tmp-1-deadbeef"  # pid 1 is alive: a writer may still be at work
    for p in (stale, stale_spill, live):
        p.write_bytes(b"partial")
    open_stage(tmp_path, "gen", CFG, {})
    assert not stale.exists() and not stale_spill.exists() and live.exists()


def test_conflicting_or_broken_manifest(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {})
    mpath = s.path / "manifest.json"
    m = json.loads(mpath.read_text())
    m["config"]["top_p"] = 0.5
    mpath.write_text(json.dumps(m))
    with pytest.raises(StageConflictError, match=rf"{mpath}: holds another config.*Delete {s.path}"):
        open_stage(tmp_path, "gen", CFG, {})
    mpath.write_text("{not json")
    with pytest.raises(CorruptStageError, match=rf"{mpath}: unreadable.*Move {s.path} away"):
        open_stage(tmp_path, "gen", CFG, {})


def test_bad_names(tmp_path):
    with pytest.raises(ValueError, match="stage name"):
        open_stage(tmp_path, "../up", CFG, {})
    s = open_stage(tmp_path, "gen", CFG, {})
    for bad in ("../x", "a/b", ".hidden", "x.tmp-1-2", ""):
        with pytest.raises(ValueError, match="shard name"):
            s.write_shard(bad, [])


def test_complete_and_latest_stage(tmp_path):
    assert latest_stage(tmp_path, "gen") is None
    assert latest_stage(tmp_path / "nowhere", "gen") is None
    a = open_stage(tmp_path, "gen", {"v": 1}, {})
    a.write_shard("00000", make_rows((0, 2)))
    assert latest_stage(tmp_path, "gen") is None  # running runs are not handed downstream
    a.complete()
    assert a.is_complete and latest_stage(tmp_path, "gen").path == a.path
    b = open_stage(tmp_path, "gen", {"v": 2}, {})
    b.complete()
    open_stage(tmp_path, "gen", {"v": 3}, {})  # newer but still running
    open_stage(tmp_path, "gen-other", {"v": 1}, {}).complete()  # a prefix, not the same stage
    assert latest_stage(tmp_path, "gen").path == b.path
    a.write_shard("00001", make_rows((1, 2)))  # redoing a shard reopens the run ...
    assert not a.is_complete
    a.complete()  # ... and completing it again makes it the latest
    assert latest_stage(tmp_path, "gen").path == a.path
    assert list(latest_stage(tmp_path, "gen").iter_rows()) == [*make_rows((0, 2)), *make_rows((1, 2))]


def test_fingerprint(tmp_path):
    a = open_stage(tmp_path / "a", "gen", CFG, {})
    b = open_stage(tmp_path / "b", "gen", CFG, {})
    for s in (a, b):
        s.write_shard("00000", make_rows((0, 3)))
    assert fingerprint(a) == fingerprint(b) == fingerprint(a.path)
    b.write_shard("00001", make_rows((1, 3)))
    assert fingerprint(a) != fingerprint(b)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a line\n")
    assert fingerprint(corpus) == hashlib.sha256(b"a line\n").hexdigest()  # a user's input file
    c = open_stage(tmp_path, "filter", CFG, {"gen": fingerprint(a)})
    assert c.manifest["inputs"] == {"gen": fingerprint(a)}


def test_two_processes_writing_one_stage_keep_each_others_shards(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_many, args=(str(tmp_path), k * 40, 40)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = open_stage(tmp_path, "gen", {"k": 1}, {})
    assert s.shards() == [f"{i:05d}" for i in range(80)]
    assert all(s.is_done(x) for x in s.shards())
    assert sum(1 for _ in s.iter_rows()) == 240


def test_read_rows_of_a_shard_file_directly(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {}, fmt="parquet")
    info = s.write_shard("00000", make_rows((0, 2)))
    assert list(read_rows(Path(info.path))) == list(make_rows((0, 2)))


def test_temp_files_of_writers_that_died_after_open_are_removed_on_complete(tmp_path):
    s = open_stage(tmp_path, "generate", CFG)
    # A pool worker of a killed run still dying when this run opened the stage: its temp file was
    # kept then (its pid was alive) and must not outlive the run.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = s.path / f"00000.jsonl.tmp-{dead}-1a2b3c4d"
    live = s.path / "00001.jsonl.tmp-1-deadbeef"
    stale.touch()
    live.touch()
    s.write_shard("00000", make_rows((0, 2)))
    s.complete()
    assert not stale.exists() and live.exists()
