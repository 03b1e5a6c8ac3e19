"""Stage run directories: naming by config, resume, damage named as such, one writer per folder, no folder
before the first write."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impdist.errors import BusyError, CorruptStageError, StageConflictError
from impdist.io import fingerprint, latest_stage, open_stage, read_rows
from impdist.io.locks import set_wait
from tests.io._read_only import read_only
from tests.io._workers import gated_rows, make_rows, run_gated, write_many

REPO = Path(__file__).resolve().parents[2]

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
    assert list(tmp_path.iterdir()) == []  # opening writes nothing: the first write makes the folder
    for s in (a, b):
        s.complete()
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
    s.write_shard("00009", make_rows((9, 1)))
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
    s.complete()
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
    s.claim()
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


# --- damaged state is named as such ------------------------------------------------------------

def _edit_manifest(stage, edit) -> None:
    mpath = stage.path / "manifest.json"
    m = json.loads(mpath.read_text())
    edit(m)
    mpath.write_text(json.dumps(m))


def test_a_hand_edited_row_count_is_damage(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {})
    s.write_shard("00000", make_rows((0, 3)))
    s.complete()
    _edit_manifest(s, lambda m: m["shards"]["00000"].update(rows=4))  # the file's sha256 still matches
    again = open_stage(tmp_path, "gen", CFG, {})
    assert not again.is_done("00000")
    with pytest.raises(CorruptStageError, match=r"00000.jsonl: missing, or changed since it was written \(it holds 3 "
                                                rf"rows, manifest.json says 4\), so {again.path} is damaged.*delete "):
        list(again.iter_rows())
    again.write_shard("00000", make_rows((0, 3)))  # a re-run redoes it
    assert again.is_done("00000") and again.manifest["shards"]["00000"]["rows"] == 3


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_row_counts_are_checked_in_both_formats(tmp_path, fmt):
    s = open_stage(tmp_path, "gen", CFG, {}, fmt=fmt)
    s.write_shard("00000", make_rows((0, 5)))
    s.write_shard("00001", [])
    assert s.is_done("00000") and s.is_done("00001")
    _edit_manifest(s, lambda m: m["shards"]["00001"].update(rows=1))
    assert not open_stage(tmp_path, "gen", CFG, {}, fmt=fmt).is_done("00001")


@pytest.mark.parametrize("edit,part", [
    (lambda m: m["shards"]["00000"].update(file="../elsewhere.jsonl"), "its entry for shard '00000' is not"),
    (lambda m: m["shards"]["00000"].pop("sha256"), "its entry for shard '00000' is not"),
    (lambda m: m.update(format="csv"), "its format 'csv' is not one of jsonl, parquet"),
])
def test_a_manifest_that_names_other_files_is_damage(tmp_path, edit, part):
    s = open_stage(tmp_path, "gen", CFG, {})
    s.write_shard("00000", make_rows((0, 3)))
    _edit_manifest(s, edit)
    with pytest.raises(CorruptStageError, match=rf"manifest.json: {re.escape(part)}.*Move {s.path} away"):
        open_stage(tmp_path, "gen", CFG, {})


def test_a_shard_file_a_complete_manifest_does_not_list_is_damage(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {})
    s.write_shard("00000", make_rows((0, 3)))
    s.complete()
    extra = s.path / "00001.jsonl"
    extra.write_bytes(s.shard_path("00000").read_bytes())
    with pytest.raises(CorruptStageError, match=rf"{extra}: a shard file that .*manifest.json does not list"):
        list(s.iter_rows())
    s.complete()  # what re-running the command does: a file no run recorded is no part of the stage
    assert not extra.exists() and list(s.iter_rows()) == list(make_rows((0, 3)))


def test_completing_removes_shard_files_no_run_recorded(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {})
    s.write_shard("00000", make_rows((0, 3)))
    killed = s.path / "00001.jsonl"  # renamed into place by a run killed before it recorded it
    killed.write_text('{"x": 1}\n')
    notes = s.path / "notes.txt"
    notes.write_text("not a shard")
    s.complete()
    assert not killed.exists() and notes.exists() and s.shards() == ["00000"]


def test_latest_stage_names_a_damaged_run_instead_of_passing_it_over(tmp_path):
    good = open_stage(tmp_path, "candidates", {"v": 1}, {})
    good.write_shard("00000", make_rows((0, 2)))
    good.complete()
    (tmp_path / "candidates-0123456789ab").mkdir()  # a start killed before its manifest: nothing lost
    assert latest_stage(tmp_path, "candidates").path == good.path
    broken = open_stage(tmp_path, "candidates", {"v": 2}, {})
    broken.write_shard("00000", make_rows((0, 2)))
    broken.complete()
    (broken.path / "manifest.json").write_text('{"stage": "cand')
    with pytest.raises(CorruptStageError, match=rf"{broken.path}/manifest.json: unreadable.*Move {broken.path} away"):
        latest_stage(tmp_path, "candidates")
    (broken.path / "manifest.json").unlink()
    with pytest.raises(CorruptStageError, match=rf"{broken.path}/manifest.json: missing.*Delete it"):
        latest_stage(tmp_path, "candidates")
    with pytest.raises(CorruptStageError, match="manifest.json: missing"):
        latest_stage(broken.path, "candidates")  # the stage folder itself, given without its manifest


# --- nothing on disk before the first write; a failed first write leaves nothing ---------------------

def _fails(payload):
    raise RuntimeError("cannot load the model")


def test_opening_writes_nothing_and_a_failed_first_write_leaves_no_folder(tmp_path):
    from impdist.io.executors import run_shards

    s = open_stage(tmp_path / "runs" / "x", "gen", CFG, {})
    assert not (tmp_path / "runs").exists() and not s.is_done("00000") and s.shards() == []
    with pytest.raises(RuntimeError, match="cannot load the model"):
        run_shards(s, [("00000", (0, 1))], _fails, quiet=True)
    assert list(tmp_path.iterdir()) == []  # neither the stage folder nor the run folders made for it
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "mine.txt").write_text("a user's file")
    with pytest.raises(RuntimeError):
        run_shards(open_stage(tmp_path / "runs", "gen", CFG, {}), [("00000", (0, 1))], _fails, quiet=True)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["mine.txt"]
    s = open_stage(tmp_path / "runs", "gen", CFG, {})
    run_shards(s, [("00000", (0, 2))], make_rows, quiet=True)
    with pytest.raises(RuntimeError):  # a later failure keeps what was written before
        run_shards(s, [("00000", (0, 2)), ("00001", (1, 2))], _fails, quiet=True)
    assert s.path.is_dir() and s.shards() == ["00000"]


# --- one writer per stage folder ----------------------------------------------------------------

def _spawn(target, *args) -> multiprocessing.Process:
    proc = multiprocessing.get_context("spawn").Process(target=target, args=args)
    proc.start()
    return proc


def _wait_for(cond, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_second_process_waits_for_the_writer_and_redoes_nothing(tmp_path, monkeypatch):
    from impdist.io.executors import run_shards

    calls, gate, root = tmp_path / "calls.log", tmp_path / "gate", tmp_path / "run"
    gate.mkdir()
    monkeypatch.setenv("IMPDIST_TEST_CALLS", str(calls))
    monkeypatch.setenv("IMPDIST_TEST_GATE", str(gate))
    first = _spawn(run_gated, str(root), 4)  # holds the stage, stopped inside its first shard
    _wait_for((gate / "started").exists, "the first writer to start")
    monkeypatch.delenv("IMPDIST_TEST_GATE")
    stage = open_stage(root, "gen", {"k": 1}, {})
    before = sorted(p.name for p in stage.path.iterdir())
    set_wait(False)
    try:  # --no-wait: one clear line, at once, and nothing written
        with pytest.raises(BusyError, match=rf"{stage.path}: another impdist process \(pid {first.pid}\) is writing "
                                            "it now; wait for it to finish, or run this command without --no-wait"):
            run_shards(stage, [(f"{i:05d}", (i, 2)) for i in range(4)], gated_rows, quiet=True)
    finally:
        set_wait(True)
    assert sorted(p.name for p in stage.path.iterdir()) == before
    log = tmp_path / "second.log"
    second = subprocess.Popen([sys.executable, "-c", "import sys; from tests.io._workers import run_gated; "
                               "run_gated(sys.argv[1], 4)", str(root)], cwd=REPO, stderr=log.open("w"),
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    _wait_for(lambda: "waiting for another impdist process" in log.read_text(), "the second run to wait")
    (gate / "go").touch()
    first.join(60)
    assert first.exitcode == 0 and second.wait(60) == 0, log.read_text()
    assert f"waiting for another impdist process (pid {first.pid}) to finish writing {stage.path}" in log.read_text()
    assert sorted(calls.read_text().split("\n")[:-1]) == [f"{first.pid} {i}" for i in range(4)]  # each shard once
    done = open_stage(root, "gen", {"k": 1}, {})
    assert done.is_complete and list(done.iter_rows()) == [r for i in range(4) for r in make_rows((i, 2))]


def test_a_process_holds_its_claim_until_complete(tmp_path):
    s = open_stage(tmp_path, "gen", CFG, {})
    s.write_shard("00000", make_rows((0, 1)))
    same = open_stage(tmp_path, "gen", CFG, {})
    same.write_shard("00001", make_rows((1, 1)))  # this process holds it already: no wait
    probe = [sys.executable, "-c", "import sys\nfrom impdist.errors import BusyError\nfrom impdist.io import open_stage\n"
             "from impdist.io.locks import set_wait\nset_wait(False)\ntry:\n    open_stage(sys.argv[1], 'gen', "
             "{'model': 'smollm2-135m', 'top_p': 0.9, 'n': 4}, {}).complete()\nexcept BusyError:\n    sys.exit(3)",
             str(tmp_path)]
    assert subprocess.run(probe, cwd=REPO).returncode == 3
    s.complete()
    assert subprocess.run(probe, cwd=REPO).returncode == 3  # `same` still holds it
    same.complete()
    assert subprocess.run(probe, cwd=REPO).returncode == 0


def test_a_finished_stage_in_a_read_only_folder_is_read_without_a_lock(tmp_path):
    s = open_stage(tmp_path / "run", "gen", CFG, {})
    from impdist.io.executors import run_shards

    run_shards(s, [(f"{i:05d}", (i, 2)) for i in range(3)], make_rows, quiet=True)
    s.complete()
    (s.path / ".lock").unlink()  # as if copied without its lock file: nothing may need to make one
    script = ("import sys\nfrom impdist.io import open_stage\nfrom impdist.io.executors import run_shards\n"
              "from tests.io._workers import make_rows\n"
              "s = open_stage(sys.argv[1], 'gen', {'model': 'smollm2-135m', 'top_p': 0.9, 'n': 4}, {})\n"
              "run_shards(s, [(f'{i:05d}', (i, 2)) for i in range(3)], make_rows, quiet=True)\n"
              "s.complete()\nprint(sum(1 for _ in s.iter_rows()))")
    before = {p.name: p.read_bytes() for p in s.path.iterdir()}
    with read_only(tmp_path / "run") as prefix:
        proc = subprocess.run([*prefix, sys.executable, "-c", script, str(tmp_path / "run")], cwd=REPO,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0 and proc.stdout.strip() == "6", proc.stderr
    assert {p.name: p.read_bytes() for p in s.path.iterdir()} == before
