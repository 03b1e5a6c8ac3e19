"""`impdist push`: what goes up (a dataset's shards and card, an export's files; never lock or temp
files), `--dry-run` offline, and one clear line, no traceback, when the Hub cannot be reached."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from impdist.cli import cli
from impdist.hub import PushError, plan_push
from tests.filters.test_pipeline import GROUPS, fakes  # noqa: F401  (a fixture)

pytest.importorskip("huggingface_hub")


@pytest.fixture
def dataset_run(fakes, tmp_path):  # noqa: F811
    from impdist.filters.pipeline import filter_dataset
    from impdist.io import open_stage

    stage = open_stage(tmp_path / "run", "candidates", {"teacher": {"model": "smollm2-135m"}})
    stage.write_shard("000000", GROUPS)
    stage.complete()
    filter_dataset(tmp_path / "run", quiet=True)
    return tmp_path / "run"


@pytest.fixture
def export_dir(tmp_path):
    folder = tmp_path / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "student.json").write_text(json.dumps({"kind": "decoder-only", "format": {}, "export": {"int8": True}}))
    for name in ("model.onnx", "README.md", "sub/tokenizer.json", ".lock", "x.onnx.tmp-123-abc"):
        (folder / name).write_text("x")
    return folder


def test_a_dataset_plan_holds_its_shards_and_card_not_locks(dataset_run):
    plan = plan_push(dataset_run, "me/paraphrases")
    assert plan.repo_type == "dataset" and plan.folder.name.startswith("dataset-")
    assert {"README.md", "card.json", "stats.json", "kept-00000.jsonl", "rejected-00000.jsonl"} <= set(plan.files)
    assert set(plan.files) == {p.name for p in plan.folder.iterdir()} - {".lock"}  # the stage folder's lock stays
    assert plan.bytes == sum((plan.folder / f).stat().st_size for f in plan.files)


def test_an_export_plan_is_a_model_repo_without_temp_files(export_dir):
    plan = plan_push(export_dir, "me/student")
    assert plan.repo_type == "model"
    assert plan.files == ("README.md", "model.onnx", "student.json", "sub/tokenizer.json")


def test_dry_run_lists_the_files_offline(dataset_run, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["push", str(dataset_run), "me/paraphrases", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "to the dataset repo me/paraphrases" in lines[0]
    assert any(line.strip().startswith("README.md") for line in lines[1:])


@pytest.mark.parametrize("repo_id, message", [("not a repo!", "is not a Hub repo id"), ("name-only", "OWNER/NAME")])
def test_a_bad_repo_id_is_refused_before_anything_else(export_dir, repo_id, message):
    with pytest.raises(PushError, match=message):
        plan_push(export_dir, repo_id)


def test_a_folder_that_is_neither_is_refused(tmp_path):
    with pytest.raises(PushError, match="neither an `impdist export` folder nor a dataset"):
        plan_push(tmp_path, "me/x")


@pytest.mark.parametrize("env, cause", [({"HF_HUB_OFFLINE": "1"}, "offline mode is on"),
                                        ({"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_dummy"},
                                         "http://127.0.0.1:9 cannot be reached")])
def test_offline_push_stops_with_one_line(export_dir, env, cause):
    proc = subprocess.run([sys.executable, "-c", "from impdist.cli import main; main()", "push", str(export_dir),
                           "me/student"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "0", **env})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("impdist: error: cannot push") and cause in lines[0] and "--dry-run" in lines[0]
    assert proc.stdout == ""


def test_without_the_hub_extra_push_names_the_install(monkeypatch, export_dir):
    import importlib.util

    from impdist.errors import MissingExtraError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name.split(".")[0] == "huggingface_hub" else real(name, *a, **k))
    with pytest.raises(MissingExtraError, match=r"pip install 'impdist\[hub\]'"):
        plan_push(export_dir, "me/student")
