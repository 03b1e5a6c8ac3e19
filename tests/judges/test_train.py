"""impdist.judges.train and `impdist judge`: a tiny encoder trained on a few real pairs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from impdist.cli import cli
from impdist.errors import ImpdistError
from impdist.judges import train as judge_train
from impdist.judges.train import train_judge
from impdist.judges.equivalence import JUDGE_META, JudgeError, load_judge
from tests.conftest import read_jsonl
from tests.judges.test_equivalence import tiny_bert_dir

FAST = {"epochs": 1, "batch_size": 8, "quiet": True}


pytestmark = pytest.mark.usefixtures("cache_root")  # every test gets an empty cache


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return tiny_bert_dir(tmp_path_factory.mktemp("base") / "encoder")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    out = {}
    for name, source in [("sick", "sick_nli_dev.jsonl"), ("mrpc", "mrpc_dev_labelled.jsonl")]:
        out[name] = root / f"{name}.jsonl"
        out[name].write_text("".join(json.dumps(r) + "\n" for r in read_jsonl(source)[:60]))
    return out


def test_nli_judge_is_written_loadable_and_evaluated_on_held_out_pairs(base, files, tmp_path):
    report = train_judge(str(base), files["sick"], "nli", tmp_path / "nli", **FAST)
    assert not report.cached and report.out == tmp_path / "nli"
    config = json.loads((tmp_path / "nli" / "config.json").read_text())
    assert config["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    meta = report.meta
    assert meta["kind"] == "nli" and meta["data"]["format"] == "sick" and "threshold" not in meta
    assert meta["train"]["pairs"] + meta["heldout"]["n"] == 60  # directional: one order each
    assert 0 <= meta["heldout"]["accuracy"] <= 1
    judge = load_judge(f"nli:{tmp_path / 'nli'}")
    assert judge.labels == ("entailment", "neutral", "contradiction") and judge.default_threshold == 0.75
    assert "3-way accuracy" in str(report)


def test_paraphrase_judge_learns_both_orders_and_brings_its_threshold(base, files, tmp_path):
    report = train_judge(str(base), files["mrpc"], "paraphrase", tmp_path / "para", **FAST)
    meta = report.meta
    assert 2 * (60 - meta["heldout"]["n"]) == meta["train"]["pairs"]  # symmetric: both orders
    judge = load_judge(f"paraphrase:{tmp_path / 'para'}")
    assert judge.labels == ("not_paraphrase", "paraphrase") and judge.positive == 1
    assert judge.default_threshold == pytest.approx(meta["threshold"]) == pytest.approx(meta["heldout"]["threshold"])


def test_a_second_identical_run_comes_from_the_cache(base, files, tmp_path, monkeypatch):
    first = train_judge(str(base), files["sick"], "nli", tmp_path / "a", **FAST)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(judge_train, "_fit", no_training)
    second = train_judge(str(base), files["sick"], "nli", tmp_path / "b", **FAST)
    assert second.cached and second.meta == first.meta
    for name in ("model.safetensors", JUDGE_META):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with pytest.raises(AssertionError, match="trained again"):  # another seed is another judge
        train_judge(str(base), files["sick"], "nli", tmp_path / "c", seed=1, **FAST)


def test_training_is_deterministic_with_the_seed(base, files, tmp_path, cache_root, monkeypatch):
    train_judge(str(base), files["sick"], "nli", tmp_path / "a", **FAST)
    monkeypatch.setenv("IMPDIST_CACHE", str(tmp_path / "other-cache"))
    train_judge(str(base), files["sick"], "nli", tmp_path / "b", **FAST)
    premises, hypotheses = ["the city council voted"], ["the council voted"]
    a = load_judge(f"nli:{tmp_path / 'a'}").score(premises, hypotheses)
    b = load_judge(f"nli:{tmp_path / 'b'}").score(premises, hypotheses)
    assert np.array_equal(a, b)


def test_wrong_labels_for_the_data_and_a_foreign_out_directory(base, files, tmp_path):
    with pytest.raises(JudgeError, match="MRPC data.*--labels paraphrase"):
        train_judge(str(base), files["mrpc"], "nli", tmp_path / "x", **FAST)
    with pytest.raises(JudgeError, match="SICK data.*labels='nli'"):
        train_judge(str(base), files["sick"], "paraphrase", tmp_path / "x", **FAST)
    with pytest.raises(JudgeError, match="labels must be 'nli' or 'paraphrase'"):
        train_judge(str(base), files["sick"], "entailment", tmp_path / "x", **FAST)
    with pytest.raises(ImpdistError, match=r"JudgeTrainConfig.lr must be a finite number > 0, got -1"):
        train_judge(str(base), files["sick"], "nli", tmp_path / "x", lr=-1, **FAST)
    with pytest.raises(ImpdistError, match=r"JudgeTrainConfig.holdout must be a number in \(0, 1\), got 1.0"):
        train_judge(str(base), files["sick"], "nli", tmp_path / "x", holdout=1.0, **FAST)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ImpdistError, match="not a judge directory"):
        train_judge(str(base), files["sick"], "nli", tmp_path / "busy", **FAST)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_train_then_calibrate(base, files, tmp_path):
    runner = CliRunner()
    out = tmp_path / "judge"
    result = runner.invoke(cli, ["judge", "train", "--base", str(base), "--data", str(files["sick"]),
                                 "--labels", "nli", "--out", str(out), "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"load it as nli:{out}" in result.output and "held-out sick" in result.output

    result = runner.invoke(cli, ["judge", "calibrate", "--judge", f"nli:{out}", "--data", str(files["sick"]),
                                 "--data", str(files["mrpc"]), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["data"] for r in rows] == ["sick", "mrpc"] and rows[0]["accuracy"] is not None
    assert rows[0]["n"] == json.loads((out / JUDGE_META).read_text())["heldout"]["n"]

    result = runner.invoke(cli, ["judge", "calibrate", "--judge", f"nli:{out}", "--data", str(files["mrpc"]),
                                 "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("| judge |") and "| 0.500 |" in result.output


def test_cli_bad_inputs_raise_user_errors(files, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["judge", "calibrate", "--judge", "bleurt", "--data", str(files["mrpc"])])
    assert isinstance(result.exception, JudgeError)
    result = runner.invoke(cli, ["judge", "calibrate", "--judge", "embedding", "--data", str(tmp_path / "no.jsonl")])
    assert isinstance(result.exception, ImpdistError) and "no such file" in str(result.exception)
