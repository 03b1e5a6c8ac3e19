"""impdist evaluate on a tiny student: systems, the cache that makes a re-run free, rounds, CLI."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from impdist.cli import cli
from impdist.errors import ImpdistError
from impdist.evaluation import evaluate as evaluate_module
from impdist.evaluation.evaluate import evaluate, students_in
from impdist.student.codes import EvalControls
from tests.student.conftest import make_pairs, write_jsonl



@pytest.fixture(scope="module")
def evalset(tmp_path_factory):
    rows = [{"src": p["src"], "refs": [p["tgt"]]} for p in make_pairs(6, seed=3)]
    return write_jsonl(tmp_path_factory.mktemp("eval") / "set.jsonl", rows)


def test_student_and_baselines_are_scored_alike_and_cached(trained, evalset, tmp_path, monkeypatch):
    ev = evaluate(trained, evalset, baselines=["copy"], backend="torch", threads=1, cache=tmp_path / "c")
    assert [s.system for s in ev.systems] == ["student", "copy-the-input"] and ev.n == 6 and ev.task == "paraphrase"
    copy = ev.systems[1].metrics
    assert copy["self_bleu"] == pytest.approx(100.0) and copy["bert_ibleu"] == 0.0 and copy["copies"] == 100.0
    assert len(ev.systems[0].outputs) == 6 and "ibleu" in ev.systems[0].metrics
    monkeypatch.setattr(evaluate_module, "_student_outputs", lambda *a: pytest.fail("decoded again"))
    again = evaluate(trained, evalset, baselines=["copy"], backend="torch", threads=1, cache=tmp_path / "c")
    assert again.to_json() == ev.to_json()
    header, rows = ev.table()
    assert header[:3] == ["system", "iBLEU", "BERT-iBLEU"] and rows[-1][0] == "paper: ChatGPT"
    assert "student" in str(ev) and json.loads(json.dumps(ev.to_json()))["systems"]["student"]


def test_summaries_get_truncation_matched_to_the_students_length(trained, evalset, tmp_path):
    ev = evaluate(trained, evalset, task="summary", baselines=["truncate"], backend="torch", threads=1)
    words = round(ev.systems[0].metrics["words"])
    assert ev.systems[1].system == f"first {words} words" and "rougeL" in ev.systems[1].metrics


def test_an_extractive_student_meets_the_teacher_decoded_the_same_way(trained, evalset, monkeypatch):
    calls = []

    class Teacher:
        def rewrite(self, srcs, task, batch_size, extractive):
            calls.append(extractive)
            return [s.split()[0] for s in srcs]

    monkeypatch.setattr(evaluate_module, "_teacher", lambda *a: Teacher())
    ev = evaluate(trained, evalset, task="summary", baselines=["teacher"], backend="torch", threads=1,
                  controls=EvalControls(extractive=True))
    assert [s.system for s in ev.systems] == ["student, extractive", "teacher, prompted, extractive"]
    assert calls == [True]  # no unconstrained teacher beside an extractive student
    from tests.decoding.test_extractive import is_deletion
    assert all(is_deletion(o, s) for o, s in zip(ev.systems[0].outputs, [json.loads(x)["src"] for x in
                                                                           evalset.read_text().splitlines()]))


def test_a_distill_folder_is_evaluated_round_by_round(trained, tmp_path):
    for k in (1, 2):
        shutil.copytree(trained, tmp_path / f"round-{k}" / "student")
    assert [n for n, _ in students_in(tmp_path)] == ["student round 1", "student round 2"]
    assert students_in(trained) == [("student", trained)]


def test_bad_requests_are_user_errors(evalset, tmp_path):
    with pytest.raises(ImpdistError, match="unknown baseline"):
        evaluate(None, evalset, baselines=["oracle"])
    with pytest.raises(ImpdistError, match="nothing to evaluate"):
        evaluate(None, evalset, baselines=[])
    with pytest.raises(ImpdistError, match="impdist train"):
        evaluate(tmp_path, evalset, baselines=["copy"])


def test_cli_json_prints_one_object(trained, evalset):
    result = CliRunner().invoke(cli, ["evaluate", "--model", str(trained), "--data", str(evalset), "--baselines",
                                      "copy", "--backend", "torch", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output.strip().splitlines()[-1])
    assert got["set"] == "set.jsonl" and set(got["systems"]) == {"student", "copy-the-input"}


def test_a_best_of_student_is_named_by_it_scored_greedy_too_and_matched_by_truncation(trained, evalset,
                                                                                      monkeypatch):
    from tests.student.test_serve import WordsEmbedder

    monkeypatch.setattr("impdist.judges.embed.load_embedder", lambda *a: WordsEmbedder())
    ev = evaluate(trained, evalset, task="summary", baselines=["truncate"], backend="torch", threads=1,
                  controls={"extractive": True, "best_of": 3})  # a dict of the same keys is taken too
    # The greedy answer under the same controls first, then the asked-for choice, which truncation matches.
    assert [s.system for s in ev.systems[:2]] == ["student, extractive", "student, extractive, best of 3"]
    assert ev.systems[2].system == f"first {round(ev.systems[1].metrics['words'])} words"
    tested = {(c.system, c.baseline) for c in ev.comparisons()}
    assert ("student, extractive", ev.systems[2].system) in tested


def test_the_cli_hands_every_control_to_evaluate(monkeypatch, evalset):
    seen = {}

    def fake(model, data, **kwargs):
        seen.update(kwargs)
        raise ImpdistError("stop here")

    monkeypatch.setattr(evaluate_module, "evaluate", fake)
    result = CliRunner().invoke(cli, ["evaluate", "--data", str(evalset), "--diversity", "0.1", "--compression",
                                      "<0.50", "--extractive", "--best-of", "4", "--embedder", "emb"])
    assert isinstance(result.exception, ImpdistError)
    assert seen["controls"] == EvalControls(diversity=0.1, compression="<0.50", extractive=True, best_of=4)
    assert seen["embedder"] == "emb"


def test_controls_keep_the_cache_keys_they_had_as_dicts():
    """The evaluation cache keys on `as_controls()`: the dicts `impdist run` passed before
    EvalControls was the one type, so its cached evaluations are found again."""
    assert EvalControls().as_controls() == {}
    assert EvalControls(diversity=0.1, extractive=True, best_of=12).as_controls() == \
        {"diversity": 0.1, "extractive": True, "best_of": 12}
    assert EvalControls(diversity="0.1").as_controls() == {"diversity": 0.1}  # a command line's number
    assert EvalControls(diversity=0.0).as_controls() == {"diversity": 0.0}  # a code, not "no code"
    assert EvalControls.from_mapping({"best_of": 2}) == EvalControls(best_of=2)
    with pytest.raises(ImpdistError, match="unknown decoding control.*embedder"):
        EvalControls.from_mapping({"embedder": "x"})
    with pytest.raises(ImpdistError, match="best_of"):
        EvalControls(best_of=0)
