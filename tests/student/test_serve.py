"""Serving: the three backends decode a student alike through the shared decode loop, sampling
does not depend on batching, control codes reach the prompt, and the CLI keeps one output line
per input line, in order."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import impdist
from impdist.cli import cli
from impdist.errors import MalformedInputError
from impdist.student.errors import NotAStudentError, StudentError
from impdist.student.codes import EvalControls
from impdist.student.serve import BEST_OF_SAMPLING, Paraphraser, rewrite_file, rewrite_stream

TEXTS = ["the city council voted on tuesday", "police arrested two men", "heavy rain caused flooding across region",
         "shares of company fell sharply after scientists announced"]


@pytest.fixture(scope="module")
def students(trained):
    return {b: Paraphraser.load(trained, backend=b, threads=1) for b in ("torch", "onnx", "onnx-int8")}


def test_top_level_name_and_default_backend(trained):
    assert impdist.Paraphraser is Paraphraser
    assert Paraphraser.load(trained, threads=1).backend.name == "onnx-int8"


def test_fp32_backends_write_the_same_greedy_outputs(students):
    torch_out = students["torch"].paraphrase(TEXTS, max_new_tokens=12)
    assert len(torch_out) == 4 and all(isinstance(t, str) and t for t in torch_out)
    assert students["onnx"].paraphrase(TEXTS, max_new_tokens=12) == torch_out
    int8 = students["onnx-int8"].paraphrase(TEXTS, max_new_tokens=12)
    assert sum(a == b for a, b in zip(int8, torch_out)) >= 2  # int8 may flip a near-tie


def test_outputs_do_not_depend_on_batch_size_or_order(students):
    s = students["onnx"]
    whole = s.paraphrase(TEXTS, max_new_tokens=10)
    assert s.paraphrase(TEXTS, max_new_tokens=10, batch_size=1) == whole
    assert s.paraphrase(TEXTS[::-1], max_new_tokens=10) == whole[::-1]
    sampled = s.paraphrase(TEXTS, n=3, max_new_tokens=10, seed=7)
    assert [len(x) for x in sampled] == [3] * 4
    assert s.paraphrase(TEXTS, n=3, max_new_tokens=10, seed=7, batch_size=5) == sampled
    assert s.paraphrase(TEXTS, n=3, max_new_tokens=10, seed=8) != sampled


def test_controls_and_task_reach_the_prompt(students, monkeypatch):
    s = students["torch"]
    seen = []
    real = s.format.prompt
    monkeypatch.setattr(s, "format", type("F", (), {"prompt": lambda self, src, c: seen.append(c) or real(src, c),
                                                    "request": s.format.request})())
    s.summarize(TEXTS[:1], compression=0.6, max_new_tokens=2)
    s.paraphrase(TEXTS[:1], diversity=0.7, exemplar="The man said it.", max_new_tokens=2)
    assert (seen[0].task, seen[0].length) == ("summary", "0.50-0.75")
    assert (seen[1].diversity, seen[1].exemplar) == (">0.60", "the _ _ it .")


def test_bad_requests_are_user_errors(students, tmp_path):
    s = students["torch"]
    with pytest.raises(StudentError, match="sample=True"):
        s.paraphrase(TEXTS, n=2, sample=False)
    with pytest.raises(StudentError, match="list of strings"):
        s.paraphrase("one sentence")
    with pytest.raises(StudentError, match="temperature"):
        s.paraphrase(TEXTS, n=2, temperature=0)
    with pytest.raises(NotAStudentError, match="student.json"):
        Paraphraser.load(tmp_path)


def test_rewrite_stream_keeps_one_line_per_input_line(students):
    lines = ['{"src": "police arrested two men"}\n', "\n", '{"src": "the city council voted", "id": 3}\n']
    out = []
    assert rewrite_stream(students["torch"], lines, out.append, task="paraphrase", max_new_tokens=5) == 3
    rows = [json.loads(x) for x in out]
    assert [r["src"] for r in rows] == ["police arrested two men", "", "the city council voted"]
    assert rows[1]["tgt"] == "" and rows[0]["tgt"] == students["torch"].paraphrase([rows[0]["src"]], max_new_tokens=5)[0]
    with pytest.raises(MalformedInputError, match="<stdin>:2: .*src"):
        rewrite_stream(students["torch"], ['{"src": "a"}\n', '{"text": "b"}\n'], out.append, task="paraphrase")


def test_cli_paraphrase_and_summarize_write_jsonl_in_order(trained, tmp_path):
    runner = CliRunner()
    text = "police arrested two men\nthe city council voted\n\nheavy rain\n"
    res = runner.invoke(cli, ["paraphrase", "--model", str(trained), "--backend", "torch", "--threads", "1"],
                        input=text)
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in res.output.splitlines()]
    assert [r["src"] for r in rows] == ["police arrested two men", "the city council voted", "", "heavy rain"]
    path = tmp_path / "in.jsonl"
    path.write_text('{"src": "police arrested two men"}\n')
    res = runner.invoke(cli, ["summarize", "--model", str(trained), "--backend", "torch", "--input", str(path),
                              "--output", str(tmp_path / "out.jsonl"), "--n", "2", "--sample"])
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert row["src"] == "police arrested two men" and len(row["tgt"]) == 2



def test_extractive_summaries_only_delete_words(students, trained, tmp_path):
    from tests.decoding.test_extractive import is_deletion

    texts = ["the city council voted on tuesday to approve new budget", "police arrested two men after heavy rain"]
    for backend in ("torch", "onnx-int8"):
        for text, outs in zip(texts, students[backend].summarize(texts, n=3, sample=True, extractive=True, seed=1)):
            assert all(o and is_deletion(o, text) for o in outs), outs
    res = CliRunner().invoke(cli, ["summarize", "--model", str(trained), "--backend", "torch", "--extractive"],
                             input=texts[0] + "\n")
    assert res.exit_code == 0, res.output
    assert is_deletion(json.loads(res.output)["tgt"], texts[0])


def test_a_text_longer_than_the_students_positions_is_refused_by_its_line(students):
    from impdist.student.errors import TextTooLongError

    long = " ".join(["police"] * 300)  # the tiny student has 256 positions
    with pytest.raises(TextTooLongError, match=r"text 2: \d+ tokens .* at most 256 positions"):
        students["torch"].paraphrase(["heavy rain", long])
    out = []
    lines = ["the city council voted\n", "heavy rain\n", long + "\n", "two men\n"]
    with pytest.raises(TextTooLongError, match="in.txt:3: "):
        rewrite_stream(students["torch"], lines, out.append, task="paraphrase", where="in.txt", max_new_tokens=4)
    assert [json.loads(x)["src"] for x in out] == ["the city council voted", "heavy rain"]


def test_lines_before_a_malformed_one_are_written(students):
    out = []
    lines = ['{"src": "police arrested two men"}\n', '{"src": "heavy rain"}\n', "{oops\n", '{"src": "x"}\n']
    with pytest.raises(MalformedInputError, match="<stdin>:3: invalid JSON"):
        rewrite_stream(students["torch"], lines, out.append, task="paraphrase", max_new_tokens=4)
    assert [json.loads(x)["src"] for x in out] == ["police arrested two men", "heavy rain"]


class WordsEmbedder:
    """Bag-of-words unit vectors: the cosine grows with the source words a deletion keeps."""

    def embed(self, texts):
        import numpy as np

        vocab = sorted({w for t in TEXTS for w in t.split()})
        rows = np.array([[t.split().count(w) for w in vocab] for t in texts], np.float32) + 1e-3
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_best_of_returns_the_most_informative_of_its_samples(students, monkeypatch):
    from impdist.filters.informativeness import most_informative
    from tests.decoding.test_extractive import is_deletion

    monkeypatch.setattr("impdist.judges.embed.load_embedder", lambda *a: WordsEmbedder())
    student = students["torch"]
    picked = student.summarize(TEXTS, best_of=4, extractive=True, seed=3)
    temperature, top_p = BEST_OF_SAMPLING  # best_of's samples are more varied than plain sampling's
    samples = student.generate(TEXTS, task="summary", n=4, sample=True, extractive=True, seed=3,
                               temperature=temperature, top_p=top_p)
    assert picked == most_informative(WordsEmbedder(), TEXTS, samples)
    assert all(is_deletion(p, t) for p, t in zip(picked, TEXTS))
    with pytest.raises(StudentError, match="best_of chooses one summary"):
        student.paraphrase(TEXTS, best_of=4)
    with pytest.raises(StudentError, match="best_of must be >= 1"):
        student.summarize(TEXTS, best_of=0)


def test_cli_summarize_best_of(trained, monkeypatch):
    from tests.decoding.test_extractive import is_deletion

    monkeypatch.setattr("impdist.judges.embed.load_embedder", lambda *a: WordsEmbedder())
    res = CliRunner().invoke(cli, ["summarize", "--model", str(trained), "--backend", "torch", "--extractive",
                                   "--best-of", "3"], input=TEXTS[3] + "\n")
    assert res.exit_code == 0, res.output
    assert is_deletion(json.loads(res.output)["tgt"], TEXTS[3])
    res = CliRunner().invoke(cli, ["paraphrase", "--model", str(trained), "--best-of", "3"], input=TEXTS[3] + "\n")
    assert res.exit_code != 0 and "No such option" in res.output


def test_rewrite_file_is_the_cli_as_one_call(trained, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("police arrested two men\n\nthe city council voted\n")
    out = tmp_path / "out.jsonl"
    assert rewrite_file(trained, source, out, task="paraphrase", backend="torch", threads=1, max_new_tokens=5) == 3
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["src"] for r in rows] == ["police arrested two men", "", "the city council voted"]
    with pytest.raises(impdist.ImpdistError, match="nope.txt"):  # before any student loads
        rewrite_file(tmp_path / "no-student", tmp_path / "nope.txt", out)


def test_rewrite_decodes_under_eval_controls(students):
    s, texts = students["torch"], TEXTS[:2]  # short: the tiny student's 256 positions hold their outputs
    controls = EvalControls(compression=0.6, extractive=True)
    assert s.rewrite(texts, "summary", controls, batch_size=1) == s.summarize(texts, compression=0.6, extractive=True)
    assert s.rewrite(texts) == s.paraphrase(texts)
