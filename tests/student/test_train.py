"""Training a student: it learns, finishes once, resumes after kill -9 exactly where it was (same
data order, same weights), respects a time budget, and refuses to mix runs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import impdist.student.train as train_module
from impdist.errors import InvalidValueError
from impdist.student.errors import NotAStudentError, StudentError, TrainConflictError
from impdist.student.meta import read_meta
from impdist.student.train import CHECKPOINTS, TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(str(folder / "model.safetensors"))


def test_the_trained_student_has_its_metadata_and_learned(trained):
    meta = read_meta(trained)
    assert meta["kind"] == "decoder-only" and meta["training"]["status"] == "complete"
    assert meta["data"]["pairs"] == 40 and meta["training"]["steps"] == 30
    log = meta["training"]["log"]
    assert log[-1]["train_loss"] < 0.6 * log[0]["train_loss"]  # lr 3e-3 on 38 pairs: it fits them
    assert log[-1]["eval_loss"] is not None and (trained / "heldout.jsonl").read_text().count("\n") >= 1
    assert not (trained / CHECKPOINTS).exists()  # a finished run keeps no optimizer state


def test_a_finished_run_returns_at_once(trained, pairs_file, tiny_model, monkeypatch):
    monkeypatch.setattr(train_module, "load_trainable", lambda *a, **k: pytest.fail("loaded a model again"))
    res = train(pairs_file, trained, TrainConfig(base=str(tiny_model), max_steps=30, batch_size=4, lr=3e-3))
    assert res.status == "complete" and res.steps == 30


def test_another_config_in_the_same_folder_is_refused(trained, pairs_file, tiny_model):
    with pytest.raises(TrainConflictError, match=r"lr: 0.003 -> 0.001.*another --out"):
        train(pairs_file, trained, TrainConfig(base=str(tiny_model), max_steps=30, batch_size=4, lr=1e-3))


def test_bad_options_and_non_students_are_user_errors(tmp_path, pairs_file):
    with pytest.raises(InvalidValueError, match="TrainConfig.batch_size must be a positive integer, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(StudentError, match="save_every"):
        train(pairs_file, tmp_path / "s", save_every=0)
    with pytest.raises(NotAStudentError, match="impdist train"):
        read_meta(tmp_path)


_KILLER = """
import os, signal, sys
import impdist.student.train as t
real = t._batch_order
def killing(n, batch_size, seed, step):
    if step == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(n, batch_size, seed, step)
t._batch_order = killing
t.train(sys.argv[1], sys.argv[2], t.TrainConfig(base=sys.argv[3], max_steps=20, batch_size=4, lr=3e-3),
        save_every=5, threads=1, quiet=True)
"""


def test_kill_9_then_rerun_resumes_from_the_last_checkpoint_bit_for_bit(tmp_path, pairs_file, tiny_model):
    config = TrainConfig(base=str(tiny_model), max_steps=20, batch_size=4, lr=3e-3)
    whole = train(pairs_file, tmp_path / "whole", config, save_every=5, threads=1, quiet=True)
    script = tmp_path / "killer.py"
    script.write_text(_KILLER.format(kill_at=13))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), str(pairs_file), str(tmp_path / "killed"), str(tiny_model)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert [p.name for p in (tmp_path / "killed" / CHECKPOINTS).iterdir()] == ["step-000010"]
    (tmp_path / "killed" / CHECKPOINTS / ".tmp-step-000015-99").mkdir()  # as a save killed half-way leaves it
    resumed = train(pairs_file, tmp_path / "killed", config, save_every=5, threads=1, quiet=True)
    assert resumed.resumed_from == 10 and resumed.steps == 20
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [e["train_loss"] for e in resumed.log] == pytest.approx([e["train_loss"] for e in whole.log], abs=1e-6)


def test_a_time_budget_stops_then_a_larger_one_goes_on(tmp_path, pairs_file, tiny_model, monkeypatch):
    clock = iter(range(0, 10_000, 2))  # every call of the clock: 2 more seconds
    monkeypatch.setattr(train_module.time, "monotonic", lambda: float(next(clock)))
    config = TrainConfig(base=str(tiny_model), max_steps=500, batch_size=4, lr=3e-3)
    first = train(pairs_file, tmp_path / "s", config, max_minutes=1, save_every=1000, threads=1, quiet=True)
    assert first.status == "budget" and 5 < first.steps < first.planned_steps == 500
    schedule = read_meta(tmp_path / "s")["training"]["lr_schedule_steps"]
    assert abs(schedule - first.steps) <= 3  # the LR schedule was fitted to what the budget allowed
    assert (tmp_path / "s" / CHECKPOINTS).is_dir()
    again = train(pairs_file, tmp_path / "s", config, max_minutes=1, save_every=1000, threads=1, quiet=True)
    assert again.steps == first.steps  # the budget is spent: nothing more to do
    more = train(pairs_file, tmp_path / "s", config, max_minutes=1.5, save_every=1000, threads=1, quiet=True)
    assert more.resumed_from == first.steps and more.steps > first.steps
    assert json.loads((tmp_path / "s" / "student.json").read_text())["training"]["max_minutes"] == 1.5


def tiny_t5_dir(path: Path, tokenizer_from: Path) -> Path:
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(vocab_size=300, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2, pad_token_id=2,
                      eos_token_id=2, decoder_start_token_id=2)
    T5ForConditionalGeneration(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(path)
    return path


def test_an_encoder_decoder_student_trains_and_serves_with_torch(tmp_path, pairs_file, tiny_model):
    from impdist.student.serve import Paraphraser

    base = tiny_t5_dir(tmp_path / "t5", tiny_model)
    res = train(pairs_file, tmp_path / "s", TrainConfig(base=str(base), max_steps=10, batch_size=4, lr=3e-3),
                threads=1, quiet=True)
    assert read_meta(res.out)["kind"] == "encoder-decoder" and res.eval_loss is not None
    student = Paraphraser.load(res.out, backend="torch", threads=1)
    one = student.paraphrase(["the city council voted", "police arrested two men"], max_new_tokens=6)
    assert len(one) == 2 and all(isinstance(o, str) for o in one)
    assert student.paraphrase(["police arrested two men"], max_new_tokens=6) == one[1:]  # batch-independent
    with pytest.raises(StudentError, match="backend='torch'"):
        Paraphraser.load(res.out, backend="onnx")


def test_cli_train_prints_the_result_and_user_errors_are_impdist_errors(tmp_path, pairs_file, tiny_model):
    from click.testing import CliRunner

    from impdist.cli import cli

    runner = CliRunner()
    args = ["train", "--data", str(pairs_file), "--out", str(tmp_path / "s"), "--base", str(tiny_model),
            "--max-steps", "2", "--batch-size", "4", "--threads", "1", "--quiet"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "2/2 steps (complete)" in res.output
    bad = runner.invoke(cli, ["train", "--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "t")])
    assert isinstance(bad.exception, StudentError) and "no such file" in str(bad.exception)


def test_freeze_keeps_the_embeddings_and_bottom_blocks_and_precision_is_recorded(tmp_path, pairs_file, tiny_model):
    config = TrainConfig(base=str(tiny_model), max_steps=4, batch_size=4, lr=3e-3, freeze=0.5, precision="bf16")
    train(pairs_file, tmp_path / "s", config, threads=1, quiet=True)
    before, after = weights(tiny_model), weights(tmp_path / "s")
    frozen = [k for k in before if "embed_tokens" in k or ".layers.0." in k]
    trained_keys = [k for k in before if ".layers.1." in k or k.startswith("lm_head")]
    assert frozen and trained_keys
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert all(not torch.equal(before[k], after[k]) for k in trained_keys if k.endswith("proj.weight"))
    training = read_meta(tmp_path / "s")["training"]
    assert training["precision"] == "bf16" and training["frozen_blocks"] == 1
    assert after[trained_keys[0]].dtype == torch.float32  # bf16 autocast keeps fp32 master weights


def test_auto_precision_is_bf16_only_where_the_cpu_has_it(monkeypatch):
    from impdist.student.train import resolve_precision

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert resolve_precision("auto", torch) == "fp32" and resolve_precision("bf16", torch) == "bf16"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert resolve_precision("auto", torch) == "bf16" and resolve_precision("fp32", torch) == "fp32"
    with pytest.raises(StudentError, match="precision must be one of auto, fp32, bf16"):
        TrainConfig(precision="fp16")
    with pytest.raises(InvalidValueError, match=r"TrainConfig.freeze must be a number in \[0, 1\), got 1.0"):
        TrainConfig(freeze=1.0)
