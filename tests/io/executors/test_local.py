"""run_shards on the local executor (in process, and a process pool): skips done shards, records finished ones before an error, survives kill -9."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impdist.io import open_stage
from impdist.io.atomic import pid_alive
from impdist.io.executors import run_shards
from impdist.io.stats import STATS_FILE
from tests.io import _workers
from tests.io._workers import fail_on_3, list_rows, make_rows

REPO = Path(__file__).resolve().parents[3]
UNITS = [(f"{i:05d}", (i, 5)) for i in range(12)]


def _counting(fn):
    calls = []

    def wrapped(payload):
        calls.append(payload)
        return fn(payload)
    return wrapped, calls


def _assert_consistent(stage):
    """Manifest and files agree: every recorded shard verifies, no other file, no temp file."""
    files = {p.name for p in stage.path.iterdir()} - {"manifest.json", ".lock", STATS_FILE}
    m = stage.manifest
    assert files == {e["file"] for e in m["shards"].values()}
    assert all(stage.is_done(s) for s in m["shards"])


def test_resume_skips_done_shards_and_redoes_corrupt_ones(tmp_path):
    fn, calls = _counting(make_rows)
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    run_shards(stage, UNITS[:5], fn, quiet=True)
    assert len(calls) == 5
    again = open_stage(tmp_path, "gen", {"k": 1}, {})
    assert again.path == stage.path
    run_shards(again, UNITS, fn, quiet=True)
    assert len(calls) == 12  # only the 7 new shards ran
    with open(again.shard_path("00002"), "ab") as f:
        f.write(b"garbage")
    run_shards(open_stage(tmp_path, "gen", {"k": 1}, {}), UNITS, fn, quiet=True)
    assert len(calls) == 13 and calls[-1] == (2, 5)
    assert list(again.iter_rows()) == [r for _, p in UNITS for r in make_rows(p)]
    _assert_consistent(again)
    other = open_stage(tmp_path, "gen", {"k": 2}, {})
    run_shards(other, UNITS[:2], fn, quiet=True)
    assert len(calls) == 15 and other.path != stage.path


def test_error_names_the_shard_and_keeps_finished_ones(tmp_path):
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    with pytest.raises(ValueError, match="bad payload 3") as e:
        run_shards(stage, UNITS[:6], fail_on_3, quiet=True)
    assert "while running shard '00003'" in " ".join(e.value.__notes__)
    assert stage.shards() == ["00000", "00001", "00002"]
    _assert_consistent(stage)
    fn, calls = _counting(make_rows)
    run_shards(stage, UNITS[:6], fn, quiet=True)
    assert [c[0] for c in calls] == [3, 4, 5]


def test_error_in_a_worker_process(tmp_path):
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    with pytest.raises(ValueError, match="bad payload 3") as e:
        run_shards(stage, UNITS, fail_on_3, workers=2, quiet=True)
    assert "while running shard '00003'" in " ".join(e.value.__notes__)
    assert "00003" not in stage.shards() and {"00000", "00001", "00002"} <= set(stage.shards())
    _assert_consistent(stage)
    run_shards(stage, UNITS, make_rows, workers=2, quiet=True)
    assert list(stage.iter_rows()) == [r for _, p in UNITS for r in make_rows(p)]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_workers_give_the_same_output(tmp_path, fmt):
    one = open_stage(tmp_path / "one", "gen", {"k": 1}, {}, fmt=fmt)
    two = open_stage(tmp_path / "two", "gen", {"k": 1}, {}, fmt=fmt)
    run_shards(one, UNITS, make_rows, workers=1, quiet=True)
    run_shards(two, list(reversed(UNITS)), list_rows, workers=2, quiet=True)
    assert one.manifest["shards"] == two.manifest["shards"]  # same files, byte for byte
    assert list(one.iter_rows()) == list(two.iter_rows())
    _assert_consistent(two)


def test_bad_units_and_functions(tmp_path):
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    with pytest.raises(ValueError, match="unique; repeated: 00001"):
        run_shards(stage, [("00001", 1), ("00001", 2)], make_rows)
    with pytest.raises(ValueError, match="shard name"):
        run_shards(stage, [("a/b", 1)], make_rows)
    with pytest.raises(TypeError, match="module level"):
        run_shards(stage, UNITS[:3], lambda p: make_rows(p), workers=2)
    with pytest.raises(TypeError, match="returned None"):
        run_shards(stage, UNITS[:1], lambda p: None)
    assert stage.shards() == []


def test_generator_rows_stream_to_disk(tmp_path):
    """A generator's rows reach the temp file while it still runs (memory stays bounded)."""
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    seen = []

    def rows(_):
        for i in range(8):
            yield {"i": i, "text": "x" * 400_000}
            seen.append(sum(p.stat().st_size for p in stage.path.glob("*.tmp-*")))

    run_shards(stage, [("00000", None)], rows, quiet=True)
    assert seen[0] == 0 and seen[-1] > 2_000_000
    assert [r["i"] for r in stage.read_shard("00000")] == list(range(8))


def test_progress_bar_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    run_shards(stage, UNITS[:3], make_rows, progress="generate")
    run_shards(stage, UNITS[:3], make_rows, progress="generate", quiet=True)


_SCRIPT = """
import sys
from impdist.io import open_stage
from impdist.io.executors import run_shards
from impdist.io.atomic import pid_alive
from tests.io._workers import slow_rows
root, fmt, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
stage = open_stage(root, "gen", {"n": 20}, {}, fmt=fmt)
run_shards(stage, [(f"{i:05d}", (i, 4, 0.005)) for i in range(20)], slow_rows,
           workers=workers, quiet=True)
stage.complete()
"""


@pytest.mark.slow
@pytest.mark.parametrize("fmt,workers", [("jsonl", 1), ("parquet", 2)])
def test_sigkill_midway_then_resume(tmp_path, fmt, workers):
    units = [(f"{i:05d}", (i, 4, 0.005)) for i in range(20)]
    reference = open_stage(tmp_path / "ref", "gen", {"n": 20}, {}, fmt=fmt)
    run_shards(reference, units, make_rows_slow_free, quiet=True)
    reference.complete()

    marker = tmp_path / "stalled"
    env = {**os.environ, _workers.STALL_ENV: f"9:{marker}", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(tmp_path / "run"), fmt, str(workers)],
                            cwd=REPO, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():  # shard 9 is mid-write and will never finish on its own
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the run and its pool workers
        proc.wait()

    run_dir = next((tmp_path / "run").iterdir())
    temps = list(run_dir.glob("*.tmp-*"))
    assert temps, "the killed run should have left a partial shard"
    # SIGKILL lands asynchronously: wait until the orphaned pool workers are really gone.
    pids = {int(re.search(r"\.tmp-(\d+)-", p.name).group(1)) for p in temps}
    deadline = time.monotonic() + 30
    while any(pid_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"killed workers {pids} still alive"
        time.sleep(0.01)
    stage = open_stage(tmp_path / "run", "gen", {"n": 20}, {}, fmt=fmt)
    assert stage.path == run_dir and not list(run_dir.glob("*.tmp-*"))
    done = [s for s, _ in units if stage.is_done(s)]
    assert "00009" not in done and not stage.is_complete
    if workers == 1:
        assert done == [f"{i:05d}" for i in range(9)]
    else:  # the other worker may have been mid-shard too
        assert len(done) >= 5
    fn, calls = _counting(make_rows_slow_free)
    run_shards(stage, units, fn, quiet=True)
    stage.complete()
    assert len(calls) == 20 - len(done)
    assert list(stage.iter_rows()) == list(reference.iter_rows())
    assert stage.manifest["shards"] == reference.manifest["shards"]
    assert not list(run_dir.glob("*.tmp-*"))
    _assert_consistent(stage)


def make_rows_slow_free(payload):
    """slow_rows's rows without the waiting."""
    i, n, _ = payload
    return make_rows((i, n))
