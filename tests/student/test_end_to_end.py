"""The embedded SmolLM2-135M as a student, end to end: a few training steps on MRPC pairs, int8
ONNX export with its card, serving the export through the API and the CLI."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from impdist.cli import cli
from impdist.student.export import export_student
from impdist.student.meta import read_meta
from impdist.student.serve import Paraphraser
from impdist.student.train import TrainConfig, train
from tests.student.conftest import write_jsonl


@pytest.mark.slow
def test_embedded_student_trains_exports_and_serves(embedded_cache, mrpc, tmp_path):
    pairs = [{"id": r["id"], "src": r["src"], "tgt": r["refs"][0]} for r in mrpc[:24]]
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    res = train(data, tmp_path / "student", TrainConfig(max_steps=3, batch_size=2, max_length=96, heldout=0.1),
                quiet=True)
    assert res.status == "complete" and res.eval_loss is not None and res.eval_loss < 10
    assert read_meta(res.out)["base"] == "smollm2-135m"

    exported = export_student(res.out, tmp_path / "onnx-int8", int8=True)
    meta = read_meta(exported.out)
    assert meta["export"]["int8"] and meta["export"]["evaluation"]["pairs"] >= 1
    student = Paraphraser.load(exported.out)
    texts = [r["src"] for r in mrpc[100:102]]
    outs = student.paraphrase(texts, max_new_tokens=24)
    assert len(outs) == 2 and all(isinstance(o, str) and "\n" not in o for o in outs)
    assert student.summarize(texts[:1], compression=0.6, max_new_tokens=16)[0].strip()

    run = CliRunner().invoke(cli, ["paraphrase", "--model", str(exported.out)], input="\n".join(texts) + "\n")
    assert run.exit_code == 0, run.output
    assert [json.loads(line)["src"] for line in run.output.splitlines()] == texts
