"""Export: a self-contained ONNX directory with KV cache (fp32 or int8), student.json and a model
card; plain optimum loads it and decodes what impdist decodes; impdist serves it."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from impdist.cli import cli
from impdist.student.errors import StudentError
from impdist.student.export import export_student
from impdist.student.meta import read_meta
from impdist.student.serve import Paraphraser

TEXT = "police arrested two men in the city"


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    return {"fp32": export_student(trained, root / "fp32", threads=1).out,
            "int8": export_student(trained, root / "int8", int8=True, threads=1).out}


def test_the_export_holds_graph_tokenizer_metadata_and_card(exported, trained):
    for kind, folder in exported.items():
        names = {p.name for p in folder.iterdir()}
        assert {"model.onnx", "config.json", "tokenizer.json", "student.json", "README.md"} <= names
        meta = read_meta(folder)
        assert meta["export"]["int8"] == (kind == "int8") and meta["training"] == read_meta(trained)["training"]
        assert meta["export"]["evaluation"]["pairs"] >= 1 and "ibleu" in meta["export"]["evaluation"]
        card = (folder / "README.md").read_text()
        for section in ("## Use it without impdist", "## Data", "## Filters", "## Training", "## Evaluation",
                        "## Export", "held-out ibleu"):
            assert section in card
    assert "MatMulNBits" in (exported["int8"] / "README.md").read_text()
    assert (exported["int8"] / "model.onnx").stat().st_size < (exported["fp32"] / "model.onnx").stat().st_size


def test_the_card_is_hub_ready(exported, trained):
    from huggingface_hub import ModelCard

    data = ModelCard.load(exported["int8"] / "README.md").data
    assert data.library_name == "onnx" and data.pipeline_tag == "text-generation" and "int8" in data.tags
    assert data.base_model is None  # the tiny base is a local folder: no Hub id to name
    evaluation = read_meta(exported["int8"])["export"]["evaluation"]
    assert {r.metric_type: r.metric_value for r in data.eval_results}["ibleu"] == evaluation["ibleu"]


def test_plain_optimum_decodes_what_impdist_decodes(exported):
    from optimum.onnxruntime import ORTModelForCausalLM
    from transformers import AutoTokenizer

    folder = exported["fp32"]
    model = ORTModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = f"<task: paraphrase>\nInput: {TEXT}\nOutput:"  # the card's recipe
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(input_ids=ids.input_ids, attention_mask=ids.attention_mask, max_new_tokens=8,
                         do_sample=False, min_new_tokens=8)
    theirs = out[0, ids.input_ids.shape[1]:].tolist()
    student = Paraphraser.load(folder, threads=1)
    assert student.backend.name == "onnx"
    ours = student.generate([TEXT], max_new_tokens=8)[0][0]
    assert tokenizer.decode(theirs, skip_special_tokens=True).split("\n")[0].strip().startswith(ours)


def test_an_export_serves_only_its_own_graph(exported):
    assert Paraphraser.load(exported["int8"], threads=1).backend.name == "onnx-int8"
    with pytest.raises(StudentError, match="backend='onnx-int8'"):
        Paraphraser.load(exported["int8"], backend="torch")


def test_refuses_foreign_folders_and_replaces_an_old_export(trained, exported, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StudentError, match="not an impdist export"):
        export_student(trained, tmp_path / "busy")
    with pytest.raises(StudentError, match="already an export"):
        export_student(exported["fp32"], tmp_path / "again")
    res = CliRunner().invoke(cli, ["export", "--model", str(trained), "--out", str(exported["fp32"]), "--no-eval",
                                   "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads((exported["fp32"] / "student.json").read_text())["export"]["evaluation"] is None


def test_a_killed_exports_temp_folders_are_removed_by_the_next_export(trained, tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)  # that process has exited: its temp folders are stale
    for name in (f".out.tmp-{pid}", f".out.tmp-{pid}-old"):  # the new export's, the replaced one's
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.onnx").write_bytes(b"half")
    (tmp_path / ".other.tmp-1").mkdir()  # another export's: not ours to touch
    export_student(trained, tmp_path / "out", evaluate=False, threads=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-1", "out"]
