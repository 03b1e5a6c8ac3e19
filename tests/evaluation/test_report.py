"""Reports: markdown and HTML from the same blocks, escaped; plots; the run report's sections."""
from __future__ import annotations

import json

from impdist.evaluation.evaluate import Evaluation, SystemResult
from impdist.evaluation.report import Heading, Image, Para, Table, to_html, to_markdown, training_curve_png
from impdist.evaluation.run_report import write_run_report

PNG = b"\x89PNG\r\n\x1a\n"


def test_markdown_and_html_say_the_same_and_escape():
    blocks = [Heading("A <b>"), Para("x & y"), Table(["system", "BLEU"], [["a|b", "1.0"]]), Image("p.png", "plot")]
    md = to_markdown(blocks)
    assert "## A <b>" in md and "| a\\|b | 1.0 |" in md and "![plot](p.png)" in md
    page = to_html(blocks, "t")
    assert "<h2>A &lt;b&gt;</h2>" in page and "x &amp; y" in page and "<td>a|b</td>" in page
    assert "<img src='p.png'" in page


def test_training_curve_is_a_png_or_nothing(tmp_path):
    log = [{"step": 10, "train_loss": 2.0, "eval_loss": 2.5}, {"step": 20, "train_loss": 1.0, "eval_loss": 2.0}]
    assert training_curve_png(log, tmp_path / "c.png").read_bytes().startswith(PNG)
    assert training_curve_png([], tmp_path / "d.png") is None


def _evaluation(task: str, student_score: float) -> Evaluation:
    keys = {"paraphrase": {"ibleu": 1.0, "bert_ibleu": 50.0}, "summary": {"rougeL": 40.0, "compression": 0.6}}[task]
    shared = {"bleu": 1, "self_bleu": 1, "similarity": 1, "distinct_2": 1, "copies": 0, "rouge1": 1, "rouge2": 1,
              "words": 5}
    student = {**shared, **{k: student_score for k in keys}, **({"compression": 0.5} if task == "summary" else {})}
    return Evaluation("set-" + task, task, 2, [SystemResult("student", student, ["s1", "s2"]),
                                               SystemResult("teacher, prompted", {**shared, **keys}, ["t1", "t2"])])


def test_run_report_has_results_verdicts_datasets_training_and_examples(tmp_path, trained):
    dataset = tmp_path / "dataset-x"
    dataset.mkdir()
    (dataset / "card.json").write_text(json.dumps({"kept": 3, "rejected": 7, "judge": "embedding",
                                                   "judge_threshold": 0.5, "funnel": [["pairs", 10], ["judge", 3]],
                                                   "histograms": []}))
    evals = [(_evaluation("paraphrase", 60.0), ["a", "b"], [["ra"], ["rb"]]),
             (_evaluation("summary", 10.0), ["c", "d"], [["rc"], ["rd"]])]
    page = write_run_report(tmp_path, [("generate", 12.0, "2 contexts\nmore")], {"paraphrase": dataset}, trained,
                            evals)
    md = (tmp_path / "report.md").read_text()
    assert page == tmp_path / "report.html" and page.read_text().startswith("<!doctype html>")
    assert "student beats every baseline on set-paraphrase." in md
    assert "student does not beat: teacher, prompted on ROUGE-L (40.0 vs 10.0)" in md
    assert "| generate | 12 | 2 contexts |" in md and "| judge | 3 |" in md
    assert "![training curve](report/training_curve.png)" in md and "| a | ra | s1 | t1 |" in md
    assert (tmp_path / "report" / "metrics_set-summary.png").read_bytes().startswith(PNG)
