"""impdist run's own pieces (the steps themselves are tested where they live)."""
from __future__ import annotations

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
