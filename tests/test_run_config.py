"""The main job's recorded configuration: run.json round-trips, --config repeats a run, flags override."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from impdist.cli import cli
from impdist.errors import ImpdistError
from impdist.run import record_run
from impdist.run_config import RUN_FILE, RunConfig, read_run_config


def test_the_canonical_json_round_trips_to_an_equal_config_and_run_id():
    config = RunConfig()
    again = RunConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config
    assert again.run_id == config.run_id
    assert len(config.run_id) == 12


def test_every_setting_changes_the_run_id():
    base = RunConfig()
    changed = [base.with_overrides(samples=4), base.with_overrides(seed=1), base.with_overrides(teacher="x"),
               base.with_overrides(eval_sets={"mrpc-dev": 10}), base.with_overrides(judge_data=None),
               RunConfig.from_json({"filters": {"summary": {"max_compression": 0.6}}}),
               RunConfig.from_json({"student": {"lr": 3e-4}})]
    ids = {c.run_id for c in changed}
    assert base.run_id not in ids and len(ids) == len(changed)


def test_a_partial_file_keeps_the_other_defaults_and_the_tasks_it_does_not_name():
    config = RunConfig.from_json({"samples": 3, "filters": {"paraphrase": {"max_rouge_l": 0.6}}})
    assert config.samples == 3 and config.contexts == RunConfig().contexts
    assert config.filters["paraphrase"].max_rouge_l == 0.6 and config.filters["paraphrase"].task == "paraphrase"
    assert config.filters["summary"] == RunConfig().filters["summary"]


def test_the_student_starts_from_the_teacher_with_the_run_seed():
    config = RunConfig(teacher="some/model", seed=7)
    assert (config.student.base, config.student.seed) == ("some/model", 7)
    assert RunConfig.from_json({"student": {"base": "other", "seed": 3}}).student.base == RunConfig().teacher


@pytest.mark.parametrize("data, words", [
    ({"sampels": 3}, ["'sampels'", "samples"]),
    ({"samples": "6"}, ["samples", "int"]),
    ({"samples": 0}, ["samples", "positive"]),
    ({"samples": True}, ["samples", "int"]),
    ({"tasks": ["poetry"]}, ["tasks", "paraphrase"]),
    ({"filters": {"summary": {"max_compression": 2.0}}}, ["filters.summary", "max_compression"]),
    ({"student": {"lr": -1.0}}, ["lr"]),
    ({"train_minutes": float("nan")}, ["train_minutes"]),
    ({"eval_sets": {"mrpc-dev": 0}}, ["eval_sets.mrpc-dev"]),
    ([1, 2], ["expected an object"]),
])
def test_bad_settings_are_refused_by_name(data, words):
    with pytest.raises(ImpdistError) as err:
        RunConfig.from_json(data, where="my.json")
    for word in words:
        assert word in str(err.value)


def test_record_run_writes_the_config_and_keeps_another_runs_record(tmp_path):
    first, second = RunConfig(), RunConfig(samples=3)
    path = record_run(tmp_path, first, {"workers": 1})
    record = json.loads(path.read_text())
    assert path.name == RUN_FILE and record["run_id"] == first.run_id and record["execution"] == {"workers": 1}
    assert read_run_config(path) == first
    record_run(tmp_path, first, {"workers": 2})  # the same run again: one record
    assert sorted(p.name for p in tmp_path.iterdir()) == [RUN_FILE]
    record_run(tmp_path, second, {})
    assert json.loads((tmp_path / f"run-{first.run_id}.json").read_text())["run_id"] == first.run_id
    assert read_run_config(tmp_path / RUN_FILE) == second


def test_a_damaged_config_file_is_named(tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text("{not json")
    with pytest.raises(ImpdistError, match="run.json: not a JSON run config"):
        read_run_config(bad)


def _print_config(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["run", "--print-config", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_print_config_shows_the_defaults_and_flags_override_a_config_file(tmp_path):
    assert _print_config() == RunConfig().to_json()
    path = record_run(tmp_path, RunConfig(samples=3, contexts=10), {})
    from_file = _print_config("--config", str(path))
    assert RunConfig.from_json(from_file).run_id == read_run_config(path).run_id
    overridden = _print_config("--config", str(path), "--samples", "5", "--eval-items", "7", "--judge-data", "none",
                               "--tasks", "summary")
    assert (overridden["samples"], overridden["contexts"]) == (5, 10)
    assert overridden["eval_sets"] == {"mrpc-eval": 7, "google-compression-dev": 7}
    assert overridden["judge_data"] is None and overridden["tasks"] == ["summary"]


def test_bad_run_flags_fail_with_one_line_and_no_folder(tmp_path):
    out = tmp_path / "run"
    for args in (["--tasks", "poetry"], ["--samples", "0"], ["--config", str(tmp_path / "missing.json")]):
        proc = subprocess.run([sys.executable, "-m", "impdist.cli", "run", "--out", str(out), *args],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode in (1, 2), proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.strip(), proc.stderr
        assert not out.exists()


def test_version_is_the_package_version():
    from impdist import __version__

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_a_partial_section_keeps_the_defaults_it_leaves_out():
    c = RunConfig.from_json({"student": {"epochs": 5.0}, "rewrites": {"summary": {"samples": 4}}})
    assert (c.student.epochs, c.student.freeze) == (5.0, RunConfig().student.freeze)
    summary = c.rewrites["summary"]
    assert (summary.samples, summary.temperature, summary.extractive) == (4, 1.0, True)


def test_presets_resolve_and_flags_override_them():
    from impdist.run_config import PRESETS, preset

    assert preset("default").run_id == RunConfig().run_id
    large = _print_config("--preset", "large", "--samples", "3")
    default = _print_config()
    assert large["contexts"] == PRESETS["large"]["contexts"] and large["samples"] == 3
    assert large["rewrite_sources"] == PRESETS["large"]["rewrite_sources"] and large["student"] == default["student"]
    for args in (["--preset", "huge"], ["--preset", "large", "--config", "run.json"]):
        result = CliRunner().invoke(cli, ["run", "--print-config", *args])
        assert result.exit_code == 2 and "--preset" in result.output, result.output
