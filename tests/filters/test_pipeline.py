"""`filter_dataset` over stage directories: scored -> dataset, resume, rethreshold, bad input.

A fake judge and embedder stand in for the models here (they count their calls, so a test can
prove that --rethreshold runs no model); the real embedded MiniLM runs in test_end_to_end.py.
"""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from impdist.cli import cli
from impdist.errors import ImpdistError, MalformedInputError
from impdist.filters import pipeline
from impdist.filters.chain import FilterConfig
from impdist.filters.pipeline import filter_dataset, read_dataset
from impdist.io import open_stage

GROUPS = [
    {"context_id": "c0", "y_orig": "A short line.", "candidates": ["A much, much longer line that no judge sees."]},
    {"context_id": "c1", "y_orig": "The council approved the new budget on Tuesday.",
     "candidates": ["On Tuesday the council passed the new budget.", "The mayor went fishing at the lake on Sunday.",
                    "The council approved the new budget on Tuesday night."]},
    {"context_id": "c2", "y_orig": "Heavy rain is expected across the north tomorrow.",
     "candidates": ["Tomorrow the north should see heavy rain.", "Rain, heavy, north, tomorrow: expected.",
                    "Stocks fell 3 percent in early trading."]},
    {"context_id": "c3", "y_orig": "Shares of the company rose 5 percent after the report.",
     "candidates": ["After the report, the company's shares climbed 7 percent."]},
]


class FakeJudge:
    """Equivalent when the two sentences share a topic word; counts its calls."""

    spec, symmetric, default_threshold = "fake", False, 0.5
    calls = 0
    TOPICS = ("budget", "rain", "shares")

    def score(self, premises, hypotheses):
        FakeJudge.calls += 1
        def topic(s):
            return next((t for t in self.TOPICS if t in s.lower()), s)
        return np.array([0.9 if topic(p) == topic(h) else 0.1 for p, h in zip(premises, hypotheses)], np.float32)


class FakeEmbedder:
    """One-hot embeddings in 64 dims picked by crc32 (not hash(): it changes per process): distinct
    texts are orthogonal but for rare, fixed collisions."""

    dim = 64

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            out[i, zlib.crc32(t.encode()) % self.dim] = 1.0
        return out


@pytest.fixture
def fakes(monkeypatch):
    FakeJudge.calls = 0
    monkeypatch.setattr(pipeline, "_load_judge", lambda *a: FakeJudge())
    monkeypatch.setattr(pipeline, "_load_embedder", lambda *a: FakeEmbedder())


@pytest.fixture
def candidates(tmp_path):
    stage = open_stage(tmp_path / "run", "candidates", {"k": 1})
    stage.write_shard("000000", GROUPS[:3])  # the first pair fails a lexical filter: no embedding
    stage.write_shard("000001", GROUPS[3:])
    stage.complete()
    return tmp_path / "run"


def test_filter_writes_kept_and_rejected_with_scores_and_a_card(fakes, candidates):
    res = filter_dataset(candidates, quiet=True)
    kept = list(read_dataset(candidates))
    rejected = list(read_dataset(candidates, rejected=True))
    assert res.kept == len(kept) and res.rejected == len(rejected) and kept
    # One pair per entailment-graph component: the budget sentences of c1, the rain ones of c2.
    assert sorted(r["context_id"] for r in kept) == ["c1", "c2"]
    for r in kept:
        assert {"compression", "rougeL", "bleu", "numbers_ok", "judge_fwd", "judge_bwd",
                "similarity"} <= set(r["scores"])
        assert "emb" not in r and "reason" not in r
    reasons = {r["id"]: r["reason"] for r in rejected}
    assert "graph_duplicate" in reasons.values()
    assert reasons["c1:0-2"] == "not_equivalent"          # the mayor went fishing
    assert reasons["c1:0-3"] == "too_similar"             # a copy of y_orig
    assert reasons["c3:0-1"] == "numbers"                 # 5 percent vs 7 percent
    assert "judge_fwd" not in next(r for r in rejected if r["id"] == "c3:0-1")["scores"]  # never judged
    card = json.loads((res.dataset_dir / "card.json").read_text())
    assert card["kept"] == res.kept and card["funnel"][0] == ["pairs", res.kept + res.rejected]
    assert "\n# Dataset card" in (res.dataset_dir / "README.md").read_text()
    assert (res.dataset_dir / "hist_rougeL.png").read_bytes()[:4] == b"\x89PNG"
    assert str(res.card) in str(res)


def test_rerun_resumes_and_rethreshold_runs_no_model(fakes, candidates):
    first = filter_dataset(candidates, quiet=True)
    calls = FakeJudge.calls
    again = filter_dataset(candidates, quiet=True)
    assert FakeJudge.calls == calls and again.dataset_dir == first.dataset_dir
    looser = filter_dataset(candidates, config=FilterConfig(max_rouge_l=1.0, numbers=False),
                            rethreshold=True, quiet=True)
    assert FakeJudge.calls == calls and looser.dataset_dir != first.dataset_dir
    reasons = {r["id"]: r["reason"] for r in read_dataset(looser.dataset_dir, rejected=True)}
    assert reasons["c3:0-1"] == "unjudged"  # it now passes the lexical filters but has no judge score
    stricter = filter_dataset(candidates, config=FilterConfig(judge_threshold=0.95), rethreshold=True, quiet=True)
    assert stricter.kept == 0 and FakeJudge.calls == calls
    assert list(read_dataset(candidates)) == []  # the latest dataset asked for
    filter_dataset(candidates, quiet=True)  # back to the defaults: that dataset is the latest again
    assert len(list(read_dataset(candidates))) == first.kept and FakeJudge.calls == calls


def test_judge_all_scores_every_pair(fakes, candidates):
    filter_dataset(candidates, judge_all=True, quiet=True)
    rows = list(read_dataset(candidates, rejected=True))
    assert all("judge_fwd" in r["scores"] for r in rows)


def test_a_jsonl_file_of_candidates_works_and_bad_rows_name_file_and_line(fakes, tmp_path):
    src = tmp_path / "cands.jsonl"
    src.write_text("\n".join(json.dumps(g) for g in GROUPS) + "\n")
    res = filter_dataset(src, tmp_path / "out", quiet=True)
    assert res.kept > 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GROUPS[0]) + "\n" + json.dumps({"context_id": "x", "y_orig": "A."}) + "\n")
    with pytest.raises(MalformedInputError, match=r"bad\.jsonl:2: field 'candidates'"):
        filter_dataset(bad, tmp_path / "out2", quiet=True)
    with pytest.raises(ImpdistError, match="--out is needed"):
        filter_dataset(src, quiet=True)


def test_missing_or_unfinished_input_and_rethreshold_without_scores(fakes, tmp_path):
    with pytest.raises(ImpdistError, match="no complete candidates stage"):
        filter_dataset(tmp_path, quiet=True)
    with pytest.raises(ImpdistError, match="no such file"):
        filter_dataset(tmp_path / "nope", tmp_path, quiet=True)
    with pytest.raises(ImpdistError, match="without --rethreshold first"):
        filter_dataset(tmp_path, rethreshold=True, quiet=True)


def test_cli_filter_prints_the_funnel_and_rejects_bad_thresholds(fakes, candidates):
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["filter", "--in", str(candidates), "--quiet", "--near-duplicate", "off"])
    assert out.exit_code == 0, out.output
    assert "funnel: pairs" in out.output and "dataset card:" in out.output
    out = CliRunner().invoke(cli, ["filter", "--in", str(candidates), "--min-len-ratio", "3"])
    assert out.exit_code != 0 and "min_len_ratio" in out.output
