"""Checkpoint folders: published with impdist.io.atomic.publish_dir (every file fsynced before the
rename), only the newest kept, and what killed saves leave removed by the next run. The model is a
stand-in: these tests are about the files, tests/student/test_train.py resumes real training."""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

from impdist.io.atomic import is_temp
from impdist.student.checkpoints import CHECKPOINTS, STATE_FILE, WEIGHTS_FILE, checkpoints, clean_temps, save_checkpoint


class _Stateful:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def state_dict(self) -> dict:
        return {"tag": self.tag}


FAKE_TORCH = SimpleNamespace(save=lambda obj, path: Path(path).write_text(json.dumps(obj)))


def _save(out: Path, step: int) -> None:
    save_checkpoint(out, {"step": step, "identity": {}}, _Stateful("m"), _Stateful("o"), _Stateful("s"), FAKE_TORCH)


def test_only_the_newest_checkpoint_is_kept_and_nothing_else(tmp_path):
    for step in (3, 6, 9):
        _save(tmp_path, step)
    assert [p.name for p in checkpoints(tmp_path)] == ["step-000009"]
    assert sorted(p.name for p in (tmp_path / CHECKPOINTS).iterdir()) == ["step-000009"]
    latest = checkpoints(tmp_path)[-1]
    assert json.loads((latest / STATE_FILE).read_bytes())["step"] == 9
    assert json.loads((latest / WEIGHTS_FILE).read_text())["model"] == {"tag": "m"}
    _save(tmp_path, 9)  # the same step again (a budget stop right after a periodic save): replaced
    assert [p.name for p in (tmp_path / CHECKPOINTS).iterdir()] == ["step-000009"]


def test_weights_and_state_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    events, real_fsync, real_replace = [], os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(a), str(b))), real_replace(a, b)))
    _save(tmp_path, 3)
    monkeypatch.undo()
    (rename,) = [e for e in events if isinstance(e, tuple)]
    assert rename[2] == str(tmp_path / CHECKPOINTS / "step-000003")
    synced = set(events[:events.index(rename)])
    assert {f"{rename[1]}/{WEIGHTS_FILE}", f"{rename[1]}/{STATE_FILE}", rename[1]} <= synced


def test_clean_temps_removes_what_killed_saves_left(tmp_path):
    _save(tmp_path, 3)
    root = tmp_path / CHECKPOINTS
    for name in (".tmp-step-000006-99", ".step-000006.tmp-99-1a2b3c4d", ".step-000003.tmp-98-00ff00ff"):
        (root / name).mkdir()  # a save killed half-way (old and new names), an old one renamed aside
        (root / name / WEIGHTS_FILE).write_bytes(b"half")
    assert sum(is_temp(p.name) for p in root.iterdir()) == 2
    clean_temps(tmp_path)
    assert [p.name for p in root.iterdir()] == ["step-000003"]
