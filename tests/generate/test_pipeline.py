"""generate() end to end on a tiny random model: outputs, determinism, resume, bad input, CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from impdist.errors import ImpdistError
from impdist.generate import stages
from impdist.generate.pipeline import generate
from impdist.io import read_rows
from tests.tiny_models import WORDS, tiny_llama_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(tiny_llama_dir(tmp_path_factory.mktemp("tiny")))


@pytest.fixture
def corpus(tmp_path):
    docs = [" ".join(f"{WORDS[(i * 7 + j) % len(WORDS)].capitalize()} {WORDS[(i + j) % len(WORDS)]} council "
                     "voted today." for j in range(4)) for i in range(6)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(docs) + "\n", encoding="utf-8")
    return path


def rows_of(stage_dir):
    return [r for f in sorted(stage_dir.glob("0*.jsonl")) for r in read_rows(f)]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_corpus_contexts_then_candidates(tiny, corpus, tmp_path, monkeypatch, backend):
    monkeypatch.setenv("IMPDIST_CACHE", str(tmp_path / "cache"))
    res = generate(tiny, contexts=corpus, samples=3, out=tmp_path / "run", backend=backend, quiet=True,
                   batch_size=4)
    ctx = rows_of(res.contexts_dir)
    cands = rows_of(res.candidates_dir)
    assert res.contexts == len(ctx) == len(cands) > 0
    assert all(r["context"] and r["y_orig"].endswith(".") for r in ctx)
    assert [c["context_id"] for c in cands] == [r["id"] for r in ctx]
    assert all(c["samples"] == 3 and c["kept"] <= 3 for c in cands)
    assert json.loads((res.candidates_dir / "manifest.json").read_text())["status"] == "complete"


def test_same_seed_same_output_and_rerun_does_nothing(tiny, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("IMPDIST_CACHE", str(tmp_path / "cache"))
    a = generate(tiny, contexts=corpus, samples=4, out=tmp_path / "a", backend="torch", quiet=True, seed=5)
    b = generate(tiny, contexts=corpus, samples=4, out=tmp_path / "b", backend="torch", quiet=True, seed=5)
    assert rows_of(a.candidates_dir) == rows_of(b.candidates_dir)
    calls = []
    monkeypatch.setattr(stages, "conditional_shard", lambda p: calls.append(p) or iter(()))
    again = generate(tiny, contexts=corpus, samples=4, out=tmp_path / "a", backend="torch", quiet=True, seed=5)
    assert calls == [] and again.candidates_dir == a.candidates_dir


def test_a_crash_mid_stage_resumes_to_the_same_output(tiny, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("IMPDIST_CACHE", str(tmp_path / "cache"))
    whole = generate(tiny, contexts=corpus, samples=2, out=tmp_path / "whole", backend="torch", quiet=True)
    real = stages.conditional_shard
    seen = []

    def crash_on_second(payload):
        seen.append(payload)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return real(payload)

    monkeypatch.setattr(stages, "conditional_shard", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        generate(tiny, contexts=corpus, samples=2, out=tmp_path / "crash", backend="torch", quiet=True)
    monkeypatch.setattr(stages, "conditional_shard", real)
    resumed = generate(tiny, contexts=corpus, samples=2, out=tmp_path / "crash", backend="torch", quiet=True)
    assert rows_of(resumed.candidates_dir) == rows_of(whole.candidates_dir)


def test_news_prefix_contexts_give_up_with_a_clear_error_on_a_babbling_teacher(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("IMPDIST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(stages, "context_shard", lambda payload: iter(()))  # never a full sentence
    with pytest.raises(ImpdistError, match="usable sentences"):
        generate(tiny, contexts=3, samples=2, out=tmp_path / "run", backend="torch", quiet=True, batch_size=2)


def test_bad_arguments(tiny, tmp_path):
    with pytest.raises(ImpdistError, match="unknown backend"):
        generate(tiny, contexts=2, backend="tensorrt", out=tmp_path)
    with pytest.raises(ImpdistError, match="positive"):
        generate(tiny, contexts=0, out=tmp_path)


def test_cli_reports_user_errors_without_a_traceback(tmp_path):
    missing = tmp_path / "nope.jsonl"
    missing.write_text("{not json}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "impdist.cli", "generate", "--contexts", str(missing),
                           "--out", str(tmp_path / "o"), "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "impdist: error:" in proc.stderr and "nope.jsonl:1" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "impdist.cli", "generate", "--contexts", "x.txt"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "a positive integer (a count of contexts) or an existing corpus file" in proc.stderr


@pytest.mark.slow
def test_embedded_teacher_writes_candidate_groups_of_real_sentences(embedded_cache, tmp_path):
    """The issue's check: offline, `--contexts 4 --samples 8` on the embedded SmolLM2."""
    res = generate("smollm2-135m", contexts=4, samples=8, out=tmp_path / "run", backend="onnx-int8", quiet=True)
    groups = rows_of(res.candidates_dir)
    assert len(groups) == 4
    assert sum(len(g["candidates"]) for g in groups) >= 8
    for g in groups:
        for c in g["candidates"]:
            assert len(c.split()) >= 3 and c[-1] in ".?!" and "\n" not in c
            assert sum(ch.isalpha() for ch in c) > 0.5 * len(c)  # words, not token soup
