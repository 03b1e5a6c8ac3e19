"""Reports: markdown and HTML from the same blocks, escaped; plots; the run report's sections."""
from __future__ import annotations

import json

import numpy as np

from impdist.evaluation.evaluate import Evaluation, SystemResult
from impdist.evaluation.report import Heading, Image, Para, Table, to_html, to_markdown, training_curve_png
from impdist.evaluation.run_report import write_run_report
from impdist.io.run_steps import Step
from impdist.metrics import item_stats, metrics_of

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


SRCS = [f"source sentence number {i} about the weather today" for i in range(40)]
REFS = [[f"reference rewrite {i} of the weather report"] for i in range(40)]


class TopicEmbedder:
    """Embeddings by topic, no model: texts about the weather point one way, the rest another."""

    def embed(self, texts):
        vecs = np.asarray([[1.0, 0.2] if "weather" in t else [0.0, 1.0] for t in texts])
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def _evaluation(task: str, student_wins: bool) -> tuple[Evaluation, list[str], list[list[str]]]:
    """Student and teacher on 40 items, scored for real: one of them outputs the references."""
    good, bad = [r[0] for r in REFS], [f"unrelated words {i}" for i in range(40)]
    systems = []
    for name, outputs in (("student", good if student_wins else bad),
                          ("teacher, prompted", bad if student_wins else good)):
        items = item_stats(task, outputs, REFS, SRCS, embedder=TopicEmbedder() if task == "paraphrase" else None)
        systems.append(SystemResult(name, metrics_of(items, outputs, SRCS), outputs, 0.0, items))
    return Evaluation("set-" + task, task, 40, systems), SRCS, REFS


def test_run_report_has_results_verdicts_datasets_training_and_examples(tmp_path, trained):
    dataset = tmp_path / "dataset-x"
    dataset.mkdir()
    (dataset / "card.json").write_text(json.dumps({"kept": 3, "rejected": 7, "judge": "embedding",
                                                   "judge_threshold": 0.5, "funnel": [["pairs", 10], ["judge", 3]],
                                                   "histograms": []}))
    evals = [_evaluation("paraphrase", True), _evaluation("summary", False)]
    steps = [Step("generate", 12.0, "2 contexts\nmore", 24, "continuations"), Step("export", 4.0, "done"),
             Step("judge", 0.2, "cached", 100, "pairs")]
    page = write_run_report(tmp_path, steps, {"paraphrase": dataset}, {"paraphrase": trained}, evals)
    md = (tmp_path / "report.md").read_text()
    assert page == tmp_path / "report.html" and page.read_text().startswith("<!doctype html>")
    assert "student beats every baseline on set-paraphrase, each difference's 95% interval above 0." in md
    assert "student is not shown to beat: teacher, prompted on ROUGE-L (-" in md
    assert "| student | teacher, prompted | iBLEU | +" in md and "Signatures: BLEU bleu|tok:13a" in md
    assert "| generate | 2 contexts |" in md and "| judge | 3 |" in md
    assert "| step | seconds | share | rows | rows/s |" in md
    assert "| generate | 12 | 74% | 24 continuations | 2.00 |" in md and "| export | 4 | 25% |  |  |" in md
    assert "| judge | 0 | 1% | 100 pairs |  |" in md and "| total | 16 | 100% |  |  |" in md  # resumed: no rate
    assert "## Student training: paraphrase" in md
    assert "![training curve (paraphrase)](report/training_curve_paraphrase.png)" in md
    assert f"| {SRCS[0]} | {REFS[0][0]} | {REFS[0][0]} | unrelated words 0 |" in md
    assert (tmp_path / "report" / "metrics_set-summary.png").read_bytes().startswith(PNG)


def _experiment_row(label: str, value, ibleu: float, diff: float) -> dict:
    return {label: value, "pairs": 76, "steps": 40, "train_s": 200, "eval_s": 100, "task": "paraphrase",
            "scores": {"ibleu": [ibleu, ibleu - 0.5, ibleu + 0.5], "bert_ibleu": [62.5, 61.0, 64.0]}, "copies": 9.5,
            "vs_teacher": {"baseline": "teacher, prompted", "metric": "ibleu", "diff": diff,
                           "ci": [diff - 0.4, diff + 0.4], "p": 0.001}}


def test_run_report_shows_the_experiments_beside_the_run_with_the_curve_plotted(tmp_path):
    (tmp_path / "curve").mkdir()
    (tmp_path / "curve" / "curve.json").write_text(json.dumps(
        {"data": "mrpc-eval", "limit": 1095, "rows": [_experiment_row("scale", 1, 4.68, 1.03),
                                                      _experiment_row("scale", 2, 5.0, 1.36)]}))
    (tmp_path / "rounds").mkdir()
    (tmp_path / "rounds" / "rounds.json").write_text(json.dumps(
        {"data": "mrpc-eval", "limit": None, "rows": [_experiment_row("round", 0, 4.68, 1.03)]}))
    write_run_report(tmp_path, [], {}, {}, [])
    md = (tmp_path / "report.md").read_text()
    assert "## Quality against data (curve/curve.json)" in md and "mrpc-eval, 1095 items" in md
    assert "| 2 | 76 | 40 | 5.00 [4.50, 5.50] | 62.50 [61.00, 64.00] | 9.50 | +1.36 [+0.96, +1.76] | 300 |" in md
    assert "| scale | pairs | steps | iBLEU | BERT-iBLEU | copies % | iBLEU − teacher | seconds |" in md
    assert "## Self-distillation rounds (rounds/rounds.json)" in md and "mrpc-eval, all items" in md
    assert "Ablation" not in md
    assert (tmp_path / "report" / "curve.png").read_bytes().startswith(PNG)
