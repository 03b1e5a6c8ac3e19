"""The evaluation cache (`evaluate(..., cache=DIR)`): one JSON entry per system, named by everything
that decides it and written atomically; a re-run reuses whole entries only, redoes a damaged or
foreign one, and removes the temp file a killed run was writing. No model: the copy baseline
with a fake embedder."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from impdist.evaluation import baselines
from impdist.evaluation import evaluate as evaluate_module
from impdist.io.atomic import is_temp
from tests.filters.test_pipeline import FakeEmbedder
from tests.student.conftest import write_jsonl


@pytest.fixture
def counted(monkeypatch, tmp_path):
    monkeypatch.setattr(evaluate_module, "_embedder", lambda *a: FakeEmbedder())
    calls = []
    real = baselines.copy_input
    monkeypatch.setattr(baselines, "copy_input", lambda srcs: (calls.append(1), real(srcs))[1])
    data = write_jsonl(tmp_path / "set.jsonl", [{"src": f"sentence number {i}", "refs": [f"number {i}"]}
                                                for i in range(4)])
    return calls, lambda: evaluate_module.evaluate(None, data, baselines=["copy"], cache=tmp_path / "c")


def test_whole_entries_are_reused_and_damaged_or_foreign_ones_redone(counted, tmp_path):
    calls, run = counted
    first = run()
    (entry,) = (tmp_path / "c").iterdir()
    saved = json.loads(entry.read_bytes())
    assert saved["outputs"] == first.systems[0].outputs and len(calls) == 1
    assert run().to_json() == first.to_json() and len(calls) == 1  # reused
    entry.write_bytes(entry.read_bytes()[:40])  # damaged (by hand: the writer never leaves half a file)
    assert run().to_json() == first.to_json() and len(calls) == 2
    assert json.loads(entry.read_bytes()) == {**saved, "seconds": json.loads(entry.read_bytes())["seconds"]}
    entry.write_text(json.dumps({**saved, "identity": {"other": 1}}))  # not this system's entry
    run()
    assert len(calls) == 3 and json.loads(entry.read_bytes())["identity"] == saved["identity"]


def test_a_killed_runs_temp_entry_is_removed(counted, tmp_path):
    _, run = counted
    run()
    (entry,) = (tmp_path / "c").iterdir()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    (tmp_path / "c" / f"{entry.name}.tmp-{dead}-1a2b3c4d").write_bytes(b'{"system": "cop')
    run()
    assert [p.name for p in (tmp_path / "c").iterdir() if is_temp(p.name)] == []


def test_an_entry_without_item_statistics_is_scored_again_without_decoding(counted, tmp_path):
    """Entries of an older impdist hold outputs and metrics only: their outputs are re-scored for
    the bootstrap's item statistics; nothing is decoded again."""
    calls, run = counted
    first = run()
    (entry,) = (tmp_path / "c").iterdir()
    old = {k: v for k, v in json.loads(entry.read_bytes()).items() if k not in ("items", "items_format")}
    entry.write_text(json.dumps(old))
    again = run()
    assert len(calls) == 1 and again.to_json() == first.to_json()
    assert json.loads(entry.read_bytes())["items_format"] == evaluate_module.ITEMS_FORMAT
    assert again.to_json()["intervals"]["copy-the-input"]["bleu"][0] == first.systems[0].metrics["bleu"].__round__(2)
