"""impdist run's own pieces (the steps themselves are tested where they live)."""
from __future__ import annotations

import json
from types import SimpleNamespace

from impdist.evaluation.evaluate import Evaluation, SystemResult
from impdist.io import open_stage
from impdist.run import examples_text, rewrite_sources_of


def test_rewrite_sources_are_distinct_full_sentences_y_origs_first(tmp_path):
    stage = open_stage(tmp_path, "candidates", {"x": 1})
    rows = [{"context_id": "a", "y_orig": "One two three four five six.",
             "candidates": ["Seven eight nine ten eleven twelve.", "A continuation of six words here.", "short"]},
            {"context_id": "b", "y_orig": "Too short here.", "candidates": []},
            {"context_id": "c", "y_orig": "One two three four five six.", "candidates": []},
            {"context_id": "d", "y_orig": " Seven eight nine ten eleven twelve. ", "candidates": []}]
    stage.write_shard("000000", rows)
    stage.complete()
    got = rewrite_sources_of(stage.path, 10)
    assert got == [{"src": "One two three four five six.", "context_id": "rw:a"},
                   {"src": "Seven eight nine ten eleven twelve.", "context_id": "rw:d"},
                   {"src": "A continuation of six words here.", "context_id": "rw:a.1"}]
    assert len(rewrite_sources_of(stage.path, 1)) == 1


def test_examples_show_the_student_beside_the_prompted_teacher():
    ev = Evaluation("s", "paraphrase", 2, [SystemResult("student", {}, ["x1", "x2"]),
                                          SystemResult("copy-the-input", {}, ["a", "b"]),
                                          SystemResult("teacher, prompted", {}, ["t1", "t2"])])
    text = examples_text(ev, ["a", "b"], 1)
    assert text.splitlines() == ["  source : a", "  student: x1", "  teacher: t1"]


def test_run_trains_one_student_per_task_and_records_each_steps_rows(tmp_path, monkeypatch):
    """The orchestration alone (each step is tested where it lives): every task's rewrites train
    that task's student for 3 epochs (at least train_min_steps), each evaluation set is scored
    with its own task's student, a task whose filter kept nothing gets none, and stages.json
    holds every step's seconds, rows and unit."""
    import impdist.run as r
    from impdist.generate.pipeline import GenerateResult
    from impdist.run_config import RunConfig

    cands = open_stage(tmp_path / "run", "candidates", {"x": 1})
    cands.write_shard("000000", [{"context_id": "a", "y_orig": "One two three four five six.",
                                  "candidates": ["Seven eight nine ten eleven twelve.", "x"]}])
    cands.complete()
    kept = {"paraphrase": 100, "summary": 0}
    calls: dict[str, list] = {"train": [], "evaluate": []}

    class Filtered:
        def __init__(self, task, rewrites):
            self.kept, self.dataset_dir = (kept[task] if rewrites else 5), tmp_path / f"{task}-{rewrites}"
            self.funnel = [("pairs", 40)]

    def fake_train(data, out, config, **kw):
        calls["train"].append((data, out, config.max_steps))
        return SimpleNamespace(steps=config.max_steps)

    def fake_evaluate(model, evalset, **kw):
        calls["evaluate"].append((evalset.name, model))
        n = len(evalset.srcs)
        return Evaluation(evalset.name, evalset.task, n, [SystemResult("student", {}, ["x"] * n)])

    monkeypatch.setattr(r, "require", lambda *a, **k: None)
    monkeypatch.setattr(r, "generate", lambda *a, **k: GenerateResult(tmp_path, cands.path, 1, 3))
    monkeypatch.setattr(r, "filter_dataset", lambda *a, task, pairing="context", **k: Filtered(task, pairing == "source"))
    monkeypatch.setattr(r, "sample_rewrites", lambda *a, **k: cands)
    monkeypatch.setattr(r, "train", fake_train)
    monkeypatch.setattr(r, "_export", lambda student, out: str(out))
    monkeypatch.setattr(r, "evaluate", fake_evaluate)
    monkeypatch.setattr(r, "write_run_report", lambda out, *a: out / "report.html")
    config = RunConfig(judge_data=None, eval_sets={"mrpc-eval": 3, "google-compression-dev": 2})
    report = r.run(tmp_path / "run", config, show=0, quiet=True)

    out = tmp_path / "run"
    assert calls["train"] == [([tmp_path / "paraphrase-True"], out / "student" / "paraphrase", 40)]  # max(40, 3*100/8)
    assert calls["evaluate"] == [("mrpc-eval", out / "student-onnx-int8" / "paraphrase")]  # no summary student
    stages = json.loads((out / "stages.json").read_text())["steps"]
    rows = {s["name"]: (s["rows"], s["unit"]) for s in stages}
    assert rows["generate"] == (3, "continuations") and rows["filter (paraphrase)"] == (40, "pairs")
    assert rows["rewrite (summary)"] == (1 * config.rewrites["summary"].samples, "samples")
    assert rows["train (paraphrase)"] == (40 * config.student.batch_size, "examples")
    assert rows["export (paraphrase)"] == (None, "") and rows["evaluate (mrpc-eval)"] == (3, "items")
    assert [s.name for s in report.steps][-1] == "report" and "stages.json" in report.steps[-1].summary


def test_training_steps_are_epochs_over_the_kept_pairs_with_a_floor():
    from impdist.student.train import TrainConfig, steps_for

    config = TrainConfig(epochs=3.0, batch_size=8)
    assert steps_for(76, config, 40) == 40 and steps_for(125, config, 40) == 47 and steps_for(0, config) == 1
