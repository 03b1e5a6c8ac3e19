"""Bad input through the real `impdist` entry point (issue 7, "Bad input"): every case gives one
ImpdistError (or a click usage error) whose message names the input and the fix, a non-zero exit,
no traceback, and leaves earlier output as it was."""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from impdist.cli import main
from tests.student.conftest import make_pairs, write_jsonl
from tests.tiny_models import tiny_llama_dir

REPO = Path(__file__).resolve().parents[1]
CORPUS = ("The city council voted on Tuesday to approve the new budget. Shares of the company fell sharply "
          "after the report. Scientists announced that they had discovered a new species. Heavy rain caused "
          "flooding across the region. Police arrested two men after the robbery. The president said in a "
          "statement that the government would act.\n")


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def impdist(capsys, monkeypatch):
    """Run `impdist ARGS` in this process through impdist.cli.main, as the console script does."""

    def run(*args, stdin: bytes = b"") -> Result:
        monkeypatch.setattr(sys, "argv", ["impdist", *map(str, args)])
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)
    return run


def refused(result: Result, *parts: str, usage: bool = False) -> str:
    """Assert a clean refusal: exit 1 (2 for a usage error, on one line), no traceback, one error on
    stderr, every part in the message; returns it."""
    text = result.err + result.out
    assert result.code == (2 if usage else 1), text
    assert "Traceback" not in text
    assert result.err.startswith("impdist: error: ") and result.err.count("impdist: error:") == 1, text
    if usage:
        assert result.err.count("\n") == 1 and result.err.endswith("\n"), text  # one line
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    return text


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under folder."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def tree(folder: Path) -> dict[str, str]:
    """snapshot() plus every folder (as "<dir>"): what a refused command must leave as it was, so
    an empty folder it made shows too."""
    return {**snapshot(folder), **{str(p.relative_to(folder)): "<dir>" for p in folder.rglob("*") if p.is_dir()}}


# --- fixtures: a tiny random Llama, a student trained on it for a few steps, and its ONNX export ----

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMPDIST_CACHE", str(root / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")  # unknown names fail at once instead of asking the hub
        yield root


@pytest.fixture(scope="module")
def llama(root) -> Path:
    return tiny_llama_dir(root / "llama")


@pytest.fixture(scope="module")
def pairs(root) -> Path:
    return write_jsonl(root / "pairs.jsonl", make_pairs(24))


@pytest.fixture(scope="module")
def trained(root, llama, pairs) -> Path:
    from impdist.student.train import TrainConfig, train

    train(pairs, root / "trained", TrainConfig(base=str(llama), max_steps=2, batch_size=4), save_every=10,
          threads=1, quiet=True)
    return root / "trained"


@pytest.fixture(scope="module")
def exported(root, trained) -> Path:
    from impdist.student.export import export_student

    return export_student(trained, root / "exported", evaluate=False, threads=1).out


@pytest.fixture
def env(root, monkeypatch, tmp_path):
    monkeypatch.setenv("IMPDIST_CACHE", str(root / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


# --- 1. malformed JSONL lines: the message names file:line ------------------------------------------

def test_malformed_jsonl_line_in_a_dataset(impdist, env, llama):
    bad = write(env / "pairs.jsonl", '{"src": "a b", "tgt": "b a"}\n{"src": oops}\n')
    refused(impdist("train", "--data", bad, "--out", env / "s", "--base", llama),
            f"{bad}:2: invalid JSON (Expecting value at column 9)", "Each line must be one complete JSON object")


def test_malformed_jsonl_line_in_an_evaluation_set(impdist, env):
    bad = write(env / "eval.jsonl", '{"src": "a b", "refs": ["b a"]}\n{"src": "x", "refs": [}\n')
    refused(impdist("evaluate", "--data", bad, "--baselines", "copy"),
            f"{bad}:2: invalid JSON", 'Each line must be one complete JSON object, e.g. {"src": "A sentence.", "refs"')


def test_a_json_value_that_is_not_an_object(impdist, env, llama):
    bad = write(env / "corpus.jsonl", '{"text": "One sentence. And another one."}\n["a list"]\n')
    refused(impdist("generate", "--model", llama, "--contexts", bad, "--out", env / "g", "--backend", "torch"),
            f"{bad}:2: expected a JSON object {{...}}, got a JSON array", "Each line must be one object")


# --- 2. empty inputs -----------------------------------------------------------------------------------

def test_empty_corpus(impdist, env, llama):
    empty = write(env / "corpus.txt", "\n  \n")
    refused(impdist("generate", "--model", llama, "--contexts", empty, "--out", env / "g", "--backend", "torch"),
            f"{empty}: the corpus is empty (no non-blank lines)", "Check that this is the file you meant")


def test_empty_dataset(impdist, env, llama):
    empty = write(env / "pairs.jsonl", "")
    refused(impdist("train", "--data", empty, "--out", env / "s", "--base", llama),
            f"{empty}: holds no pairs to train on", "loosen its thresholds")


def test_empty_evaluation_set(impdist, env):
    empty = write(env / "eval.jsonl", "\n")
    refused(impdist("evaluate", "--data", empty, "--baselines", "copy"),
            f"{empty}: holds no items to evaluate on", 'each line must be an object like {"src"')


def test_empty_candidates_file(impdist, env):
    empty = write(env / "cands.jsonl", "")
    refused(impdist("filter", "--in", empty, "--out", env / "f"),
            f"{empty}: holds no candidate groups to filter", '"y_orig": "A sentence."')


# --- 3. non-UTF-8 bytes: file:line, the byte offset, and how to re-encode -----------------------------

def test_latin1_corpus(impdist, env, llama):
    bad = write(env / "corpus.txt", b"Good line. Another.\ncaf\xe9 au lait. Fine.\n")
    refused(impdist("generate", "--model", llama, "--contexts", bad, "--out", env / "g", "--backend", "torch"),
            f"{bad}:2: not valid UTF-8: byte 0xe9 at byte offset 23 of the file (byte 3 of the line)",
            "Save the file as UTF-8", "iconv -f latin1 -t utf-8 corpus.txt > fixed.txt")


def test_latin1_paraphrase_input_file(impdist, env, exported):
    bad = write(env / "in.txt", b"the city council voted\nna\xefve\n")
    refused(impdist("paraphrase", "--model", exported, "--input", bad),
            f"{bad}:2: not valid UTF-8: byte 0xef at byte offset 25", "Save the file as UTF-8")


def test_latin1_paraphrase_stdin(impdist, env, exported):
    refused(impdist("summarize", "--model", exported, stdin=b"ok\n\xff\xfe bad\n"),
            "<stdin>:2: not valid UTF-8: byte 0xff at byte offset 3", "Save the file as UTF-8")


def test_latin1_evaluation_set(impdist, env):
    bad = write(env / "eval.jsonl", b'{"src": "caf\xe9", "refs": ["x"]}\n')
    refused(impdist("evaluate", "--data", bad, "--baselines", "copy"),
            f"{bad}:1: not UTF-8", "re-encode the file as UTF-8")


# --- 4. long lines: a 1 MB line works, one over 1 MiB gets a clear error -------------------------------

def test_a_one_megabyte_line_works(impdist, env):
    big = " ".join(["word"] * 200_000)  # 999,999 bytes, under the 1 MiB limit
    data = write(env / "eval.jsonl", json.dumps({"src": big, "refs": ["word word"]}) + "\n")
    got = impdist("evaluate", "--data", data, "--baselines", "copy", "--json")
    assert got.code == 0 and "Traceback" not in got.err, got.err
    assert json.loads(got.out.strip().splitlines()[-1])


def test_a_line_over_one_mebibyte(impdist, env, exported):
    huge = write(env / "in.txt", "x" * (1 << 20 | 7) + "\n")
    refused(impdist("paraphrase", "--model", exported, "--input", huge),
            f"{huge}:1: line is longer than 1048576 bytes", "split it into one record per line")


def test_a_one_megabyte_line_to_paraphrase_keeps_the_lines_before_it(impdist, env, exported):
    big = " ".join(["word"] * 200_000)  # under the reader's 1 MiB, far over the student's positions
    lines = write(env / "in.txt", f"police arrested two men\n{big}\nheavy rain\n")
    out = env / "out.jsonl"
    text = refused(impdist("paraphrase", "--model", exported, "--input", lines, "--output", out),
                   f"{lines}:2: ", "this student reads at most 256 positions", "Split the text into sentences")
    assert re.search(r":2: \d{6,} tokens with its prompt", text) and not out.exists()  # replaced only when done
    got = impdist("paraphrase", "--model", exported, stdin=f"police arrested two men\n{big}\n".encode())
    assert got.code == 1 and "<stdin>:2: " in got.err
    assert [json.loads(x)["src"] for x in got.out.splitlines()] == ["police arrested two men"]


# --- 5. missing fields ---------------------------------------------------------------------------------

def test_a_pair_without_tgt(impdist, env, llama):
    bad = write(env / "pairs.jsonl", '{"src": "a b c", "tgt": "c b a"}\n{"src": "a b c"}\n')
    refused(impdist("train", "--data", bad, "--out", env / "s", "--base", llama),
            f"{bad}:2: field 'tgt' is missing or blank", 'a training pair looks like {"src"')


def test_an_evaluation_line_without_refs(impdist, env):
    bad = write(env / "eval.jsonl", '{"src": "a b", "refs": ["b a"]}\n{"src": "d e f"}\n')
    refused(impdist("evaluate", "--data", bad, "--baselines", "copy"),
            f"{bad}:2: needs 'refs', a non-empty list of non-empty strings", '"refs": ["Its reference rewrite."]')


def test_a_corpus_record_without_text(impdist, env, llama):
    bad = write(env / "corpus.jsonl", '{"body": "One. Two."}\n')
    refused(impdist("generate", "--model", llama, "--contexts", bad, "--out", env / "g", "--backend", "torch"),
            f"{bad}:1: no field 'text' in this record (it has 'body')", "Add a 'text' field to every record")


def test_a_candidates_row_without_y_orig(impdist, env):
    bad = write(env / "cands.jsonl", '{"context_id": "c1", "candidates": ["x"]}\n')
    refused(impdist("filter", "--in", bad, "--out", env / "f"),
            f"{bad}:1: field 'y_orig' is missing or not a string", 'a candidates row looks like {"context_id"')


# --- 6. models: unknown names, damaged files ---------------------------------------------------------

def test_unknown_model_name(impdist, env, pairs):
    text = refused(impdist("train", "--data", pairs, "--out", env / "s", "--base", "smollm2-135"),
                   "cannot find model 'smollm2-135'", "did you mean 'smollm2-135m'?",
                   "an embedded name: smollm2-135m (causal-lm), minilm-l6 (embedding)",
                   "a local directory in Hugging Face format", "a Hugging Face Hub id")
    assert not (env / "s").exists() or not any((env / "s").iterdir()), text


def test_corrupt_onnx_graph(impdist, env, trained, exported):
    broken = env / "exported"
    os.system(f"cp -r '{exported}' '{broken}'")
    (broken / "model.onnx").write_bytes((exported / "model.onnx").read_bytes()[:1000])
    refused(impdist("paraphrase", "--model", broken, "--input", write(env / "in.txt", "a b c\n")),
            f"{broken}/model.onnx: ONNX Runtime cannot load this graph", "INVALID_PROTOBUF",
            f"re-export it: impdist export --model {trained} --out {broken}")


def test_export_without_its_graph(impdist, env, exported):
    broken = env / "exported"
    os.system(f"cp -r '{exported}' '{broken}'")
    (broken / "model.onnx").unlink()
    refused(impdist("paraphrase", "--model", broken, "--input", write(env / "in.txt", "a b c\n")),
            f"{broken}: holds config.json but no weights (model.safetensors, pytorch_model.bin or model.onnx)",
            "re-run that command (`impdist train` or `impdist export`)")


def test_cut_short_safetensors(impdist, env, trained):
    broken = env / "trained"
    os.system(f"cp -r '{trained}' '{broken}'")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    refused(impdist("export", "--model", broken, "--out", env / "e"),
            f"{weights}: damaged weights file", "(the file was cut short)", "Copy or download the model again")


def test_damaged_config_json(impdist, env, llama, pairs):
    broken = env / "llama"
    os.system(f"cp -r '{llama}' '{broken}'")
    write(broken / "config.json", "{")
    refused(impdist("train", "--data", pairs, "--out", env / "s", "--base", broken),
            f"{broken}/config.json: unreadable (not valid JSON", "The model folder is damaged")


@pytest.mark.parametrize("content,part", [(None, "holds no student.json, so it is not a finished student"),
                                          ('{"kind": ', "student.json: unreadable")])
def test_missing_or_corrupt_student_json(impdist, env, trained, content, part):
    broken = env / "trained"
    os.system(f"cp -r '{trained}' '{broken}'")
    if content is None:
        (broken / "student.json").unlink()
    else:
        write(broken / "student.json", content)
    refused(impdist("export", "--model", broken, "--out", env / "e"), part, "impdist train")


# --- 7. stage manifests --------------------------------------------------------------------------------

@pytest.mark.parametrize("content,part", [("null", "is not a manifest object"),
                                          ('{"stage": "candidates"}', "lacks format, status, shards"),
                                          ('{"stage": "cand', "unreadable")])
def test_corrupt_manifest(impdist, env, content, part):
    stage = env / "run" / "candidates-0123456789ab"
    stage.mkdir(parents=True)
    write(stage / "000000.jsonl", '{"context_id": "c1", "y_orig": "A b.", "candidates": ["B a."]}\n')
    write(stage / "manifest.json", content)
    refused(impdist("filter", "--in", stage, "--out", env / "f"),
            f"{stage}/manifest.json: {part}", f"Move {stage} away to redo this stage")


def test_changed_shard(impdist, env):
    from impdist.io import open_stage
    from impdist.io.executors import run_shards

    stage = open_stage(env / "run", "candidates", {"x": 1}, inputs={})
    row = {"context_id": "c1", "y_orig": "A b.", "candidates": ["B a."]}
    run_shards(stage, [("000000", [row])], lambda rows: rows, quiet=True)
    stage.complete()
    with open(stage.shard_path("000000"), "a") as f:
        f.write(json.dumps(row) + "\n")
    refused(impdist("filter", "--in", env / "run", "--out", env / "f"),
            "000000.jsonl: missing, or changed since it was written", "Re-run the stage to redo that shard")


# --- 8. names and values of options ------------------------------------------------------------------

def test_unknown_evaluation_set(impdist, env):
    refused(impdist("evaluate", "--data", "mrpc-devv", "--baselines", "copy"),
            "mrpc-devv: no such file, nor a named evaluation set", "did you mean 'mrpc-dev'?",
            "pass a JSONL or TSV file, a named evaluation set (mrpc-dev, mrpc-eval, google-compression-dev")


def test_bad_control_value(impdist, env, exported):
    refused(impdist("paraphrase", "--model", exported, "--input", write(env / "in.txt", "a b c\n"),
                    "--compression", "abc"),
            "compression='abc' is neither a number nor one of this student's length codes: <0.50, 0.50-0.75")


@pytest.mark.parametrize("args,part", [
    (("filter", "--threshold", "abc"), "Invalid value for '--threshold': must be a number in [-1, 1], got 'abc'"),
    (("filter", "--near-duplicate", "abc"),
     "Invalid value for '--near-duplicate': must be a number in (0, 1] or 'off', got 'abc'"),
    (("filter", "--min-len-ratio", "-1"), "Invalid value for '--min-len-ratio': must be a finite number > 0, got '-1'"),
    (("filter", "--min-len-ratio", "2"), "need min_len_ratio <= max_len_ratio, got 2.0, 1.5"),
    (("filter", "--max-rouge-l", "2"), "Invalid value for '--max-rouge-l': must be a number in (0, 1], got '2'"),
    (("filter", "--task", "poem"), "Invalid value for '--task': 'poem' is not one of 'paraphrase', 'summary'"),
    (("run", "--tasks", "poem"), "Invalid value for --tasks: tasks must be paraphrase and/or summary, got 'poem'"),
    (("evaluate", "--data", "mrpc-dev", "--task", "poem"), "Invalid value for '--task': 'poem' is not one of"),
])
def test_bad_option_values(impdist, env, args, part):
    refused(impdist(*args), part, usage=True)


def test_a_best_of_below_one(impdist, env):
    data = write(env / "eval.jsonl", '{"src": "a b", "refs": ["b a"]}\n')
    refused(impdist("evaluate", "--data", data, "--baselines", "copy", "--best-of", "0"),
            "Invalid value for '--best-of': must be a positive integer, got '0'", usage=True)


def test_unknown_baseline(impdist, env):
    data = write(env / "eval.jsonl", '{"src": "a b", "refs": ["b a"]}\n')
    refused(impdist("evaluate", "--data", data, "--baselines", "copy,oracle"),
            "unknown baseline(s) oracle; choose from copy, truncate, teacher")


# --- 9. paths that are missing or are folders ----------------------------------------------------------

def test_missing_dataset_path(impdist, env, llama):
    refused(impdist("train", "--data", env / "nope.jsonl", "--out", env / "s", "--base", llama),
            f"{env / 'nope.jsonl'}: no such file or folder", "a JSONL file of {\"src\", \"tgt\"} pairs")


def test_missing_input_file(impdist, env, exported):
    refused(impdist("paraphrase", "--model", exported, "--input", "nope.txt"),
            "Invalid value for '--input': File 'nope.txt' does not exist", usage=True)


def test_missing_student_folder(impdist, env):
    refused(impdist("paraphrase", "--model", env / "nope", "--input", write(env / "in.txt", "a\n")),
            f"{env / 'nope'}: no such folder", "give the --out folder of `impdist train` or `impdist export`")


def test_corpus_path_is_a_folder(impdist, env, llama):
    (env / "docs").mkdir()
    refused(impdist("generate", "--model", llama, "--contexts", "docs", "--out", env / "g", "--backend", "torch"),
            "docs: is a folder; pass one file (.txt, .jsonl or .parquet)")


def test_evaluation_path_is_a_folder(impdist, env):
    (env / "sets").mkdir()
    refused(impdist("evaluate", "--data", "sets", "--baselines", "copy"),
            "sets: is a folder; pass a JSONL or TSV file")


# --- 10. write failures: the error names the output, earlier output stays as it was ------------------

def test_disk_full_on_stdout_device(impdist, env, exported):
    refused(impdist("paraphrase", "--model", exported, "--input", write(env / "in.txt", "a b c\n"),
                    "--output", "/dev/full"),
            "cannot write /dev/full: the disk is full", "free some space or write to another disk")


def test_disk_full_keeps_the_old_output_file(impdist, env, exported, monkeypatch):
    from impdist.io import atomic as _atomic

    old = write(env / "out.jsonl", '{"src": "old", "tgt": "kept"}\n')

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(_atomic, "write_all", full)
    refused(impdist("paraphrase", "--model", exported, "--input", write(env / "in.txt", "a b c\nd e\n"),
                    "--output", old),
            f"cannot write {old}: the disk is full", "Files written before are intact")
    assert old.read_text() == '{"src": "old", "tgt": "kept"}\n'
    assert sorted(p.name for p in env.iterdir()) == ["in.txt", "out.jsonl"]  # no temp file left


def test_disk_full_while_writing_shards_keeps_finished_ones(impdist, env, llama, monkeypatch):
    from impdist.io import atomic as _atomic

    corpus = write(env / "corpus.txt", CORPUS)  # 5 contexts: candidate shards of 4 and 1
    args = ("generate", "--model", llama, "--contexts", corpus, "--out", env / "run", "--backend", "torch",
            "--threads", "1", "--quiet", "--samples")
    assert impdist(*args, "1").code == 0
    first = {k: v for k, v in snapshot(env / "run").items() if not k.endswith("manifest.json")}
    real, shards = _atomic.write_all, []

    def fills_up(fd, data):  # the new run's first shard fits, then the disk is full
        target = os.readlink(f"/proc/self/fd/{fd}")
        if "/candidates-" in target and ".jsonl.tmp-" in target:
            shards.append(target)
            if len(shards) > 1:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)
    monkeypatch.setattr(_atomic, "write_all", fills_up)
    text = refused(impdist(*args, "2"), "/000001.jsonl: the disk is full",
                   "Files written before are intact; re-run the same command to resume")
    after = snapshot(env / "run")
    assert {k: v for k, v in after.items() if k in first} == first, text  # the first run is untouched
    assert not [k for k in after if _atomic.is_temp(Path(k).name)]  # no temp file left behind
    old_dirs = {Path(k).parent for k in first}
    new = [k for k in after if k.startswith("candidates-") and Path(k).parent not in old_dirs]
    assert sorted(Path(k).name for k in new if not Path(k).name.startswith(".")) == ["000000.jsonl", "manifest.json"]
    monkeypatch.setattr(_atomic, "write_all", real)
    assert impdist(*args, "2").code == 0  # space again: the re-run finishes the second run


# --- 11. the console script itself: one line on stderr, exit 1, no traceback ---------------------------

def test_console_script_prints_one_line(tmp_path):
    bad = write(tmp_path / "eval.jsonl", '{"src": oops}\n')
    proc = subprocess.run([str(Path(sys.executable).parent / "impdist"), "evaluate", "--data", str(bad)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"impdist: error: {bad}:1: invalid JSON") and proc.stdout == ""


# --- 12. damaged stage folders, one run per folder, no litter (issue 22) ------------------------------

def _run_stage(folder: Path, rows: list[dict]) -> Path:
    """A complete candidates stage of `rows` (one shard) under run folder `folder`; its path."""
    from impdist.io import open_stage
    from impdist.io.executors import run_shards

    stage = open_stage(folder, "candidates", {"x": 1}, inputs={})
    run_shards(stage, [("000000", rows)], lambda rows: rows, quiet=True)
    stage.complete()
    return stage.path


def test_a_damaged_manifest_in_a_run_folder_is_named(impdist, env):
    stage = _run_stage(env / "run", [{"context_id": "c1", "y_orig": "A b.", "candidates": ["B a."]}])
    write(stage / "manifest.json", '{"stage": "candidates", "format": ')
    text = refused(impdist("filter", "--in", env / "run", "--out", env / "f"),
                   f"{stage}/manifest.json: unreadable", f"Move {stage} away to redo this stage")
    assert "run `impdist generate" not in text and not (env / "f").exists()


def test_a_hand_edited_row_count_is_named(impdist, env):
    row = {"context_id": "c1", "y_orig": "A b.", "candidates": ["B a."]}
    stage = _run_stage(env / "run", [row, {**row, "context_id": "c2"}])
    m = json.loads((stage / "manifest.json").read_text())
    m["shards"]["000000"]["rows"] = 1
    write(stage / "manifest.json", json.dumps(m))
    refused(impdist("filter", "--in", env / "run", "--out", env / "f"),
            "000000.jsonl: missing, or changed since it was written (it holds 2 rows, manifest.json says 1)",
            f"{stage} is damaged", "Re-run the stage to redo that shard", f"or delete {stage}")


def test_a_damaged_scored_stage_is_named_by_rethreshold(impdist, env):
    from impdist.io import open_stage

    scored = open_stage(env / "run", "scored", {"task": "paraphrase"}, inputs={})
    scored.write_shard("000000", [{"src": "A b.", "tgt": "B a.", "scores": {}}])
    scored.complete()
    write(scored.path / "manifest.json", "[]")
    text = refused(impdist("filter", "--in", env / "run", "--rethreshold"),
                   f"{scored.path}/manifest.json: is not a manifest object", f"Move {scored.path} away")
    assert "without --rethreshold first" not in text

def test_filter_in_a_missing_folder(impdist, env):
    refused(impdist("filter", "--in", env / "nowhere"),
            f"{env / 'nowhere'}: no such file or directory", "give the --out folder of `impdist generate`")


def test_a_failed_start_leaves_no_folder(impdist, env, llama):
    corpus = write(env / "corpus.txt", CORPUS)
    for contexts in ("2", corpus):  # news-prefix contexts need the model at once; a corpus's contexts do not
        got = impdist("generate", "--model", "no-such-model", "--contexts", contexts, "--out", env / "runs" / "x",
                      "--backend", "torch", "--quiet")
        assert got.code == 1 and "Traceback" not in got.err and "cannot find model 'no-such-model'" in got.err
    assert sorted(p.name for p in env.iterdir()) == ["corpus.txt"]  # no runs/, no stage folder


def test_a_judge_that_cannot_load_leaves_no_folder(impdist, env):
    cands = write(env / "cands.jsonl", json.dumps({"context_id": "c1", "y_orig": "The council voted on Tuesday.",
                                                   "candidates": ["On Tuesday the council voted."]}) + "\n")
    got = impdist("filter", "--in", cands, "--out", env / "f", "--judge", "nli:no-such-judge", "--judge-all",
                  "--quiet")  # refused inside the first shard, once the scored stage was begun
    assert got.code == 1 and "Traceback" not in got.err and "cannot find model 'no-such-judge'" in got.err
    assert not (env / "f").exists()

_COUNTING_IMPDIST = """
import os, sys, time
from pathlib import Path
from impdist.generate import stages

def counted(name):
    real = getattr(stages, name)
    def run(payload):  # log each shard computed; with a gate, stop inside the first until told to go
        with open(os.environ["IMPDIST_TEST_CALLS"], "a") as f:
            f.write(f"{os.getpid()} {name}\\n")
        gate = os.environ.get("IMPDIST_TEST_GATE")
        if gate and not Path(gate, "started").exists():
            Path(gate, "started").touch()
            while not Path(gate, "go").exists():
                time.sleep(0.01)
        return real(payload)
    setattr(stages, name, run)

for name in ("context_shard", "corpus_shard", "conditional_shard"):
    counted(name)
from impdist.cli import main
sys.argv = ["impdist", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_two_identical_generates_on_one_folder_compute_each_shard_once(env, llama):
    import time

    corpus = write(env / "corpus.txt", CORPUS)
    args = ["generate", "--model", str(llama), "--contexts", str(corpus), "--out", str(env / "run"), "--backend",
            "torch", "--threads", "1", "--samples", "2", "--quiet"]
    calls, gate = env / "calls.log", env / "gate"
    gate.mkdir()
    base = {**os.environ, "PYTHONPATH": str(REPO), "IMPDIST_TEST_CALLS": str(calls)}

    def start(name: str, *extra: str, gated: bool = False) -> subprocess.Popen:
        """`impdist generate ARGS EXTRA` with shard counting, its stderr in NAME.err."""
        with open(env / f"{name}.err", "w") as err:
            return subprocess.Popen([sys.executable, "-c", _COUNTING_IMPDIST, *args, *extra], cwd=env, text=True,
                                    env={**base, **({"IMPDIST_TEST_GATE": str(gate)} if gated else {})},
                                    stdout=subprocess.PIPE, stderr=err)

    def wait_for(cond, what: str) -> None:
        deadline = time.monotonic() + 300
        while not cond():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    first = start("first", gated=True)
    wait_for((gate / "started").exists, "the first run to start its first shard")
    before = snapshot(env / "run")
    busy = start("busy", "--no-wait")
    assert busy.wait(300) == 1
    err = (env / "busy.err").read_text()
    assert re.fullmatch(rf"impdist: error: {re.escape(str(env / 'run'))}/contexts-[0-9a-f]{{12}}: another impdist "
                        rf"process \(pid {first.pid}\) is writing it now; wait for it to finish, or run this command "
                        r"without --no-wait to wait for it\n", err), err
    assert snapshot(env / "run") == before
    second = start("second")
    wait_for(lambda: "waiting for another impdist process" in (env / "second.err").read_text() or
             second.poll() is not None, "the second run to wait for the first")
    (gate / "go").touch()
    out1, _ = first.communicate(timeout=600)
    out2, _ = second.communicate(timeout=600)
    assert (first.returncode, second.returncode) == (0, 0), (env / "first.err").read_text() + (env / "second.err").read_text()
    assert out1 == out2 and "5 contexts" in out1
    assert f"waiting for another impdist process (pid {first.pid}) to finish writing" in (env / "second.err").read_text()
    shards = sum(len(json.loads(m.read_bytes())["shards"]) for m in (env / "run").glob("*/manifest.json"))
    logged = calls.read_text().splitlines()
    assert shards == 3 and len(logged) == shards  # the contexts shard and two candidates shards, each once
    assert {line.split()[0] for line in logged} == {str(first.pid)}


def test_a_finished_generate_reruns_in_a_read_only_folder(impdist, env, llama):
    from tests.io._read_only import read_only

    corpus = write(env / "corpus.txt", CORPUS)
    args = ["generate", "--model", str(llama), "--contexts", str(corpus), "--out", str(env / "run"), "--backend",
            "torch", "--threads", "1", "--samples", "1", "--quiet"]
    done = impdist(*args)
    assert done.code == 0, done.err
    before = snapshot(env / "run")
    with read_only(env / "run") as prefix:
        proc = subprocess.run([*prefix, str(Path(sys.executable).parent / "impdist"), *args], capture_output=True,
                              text=True, timeout=300, cwd=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == done.out and snapshot(env / "run") == before
