"""Self-distillation: the student samples for the dataset's sources, the filter re-judges with
pairing="source" and keeps the passing candidate with the lowest ROUGE-L per source, the dataset
grows with round = k, the student retrains; every step is a stage that a re-run skips."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import impdist.student.rewrites as rewrites_module
from impdist.distill import distill
from impdist.filters import pipeline
from impdist.io import StageDir
from impdist.student.rewrites import Sampling
from impdist.student.meta import read_meta
from impdist.student.train import TrainConfig
from tests.student.conftest import make_pairs, pairs_file, student_root, tiny_model, trained  # noqa: F401 - fixtures


class FakeJudge:
    """Equivalent unless the hypothesis or premise says WRONG."""

    spec, symmetric, default_threshold = "fake", True, 0.5

    def score(self, premises, hypotheses):
        return np.array([0.1 if "WRONG" in p + h else 0.9 for p, h in zip(premises, hypotheses)], np.float32)


class FakeEmbedder:
    """A random unit vector per text (seeded by its crc32): distinct pairs are never duplicates."""

    def embed(self, texts):
        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=64) for t in texts]
        return np.array([r / np.linalg.norm(r) for r in rows], np.float32)


def interleave(src: str) -> str:
    words = src.split()
    return " ".join(words[1::2] + words[0::2])


class FakeStudent:
    """Four candidates per source: an interleaving (passes, lowest ROUGE-L), a near-copy (too
    similar), a judged non-paraphrase, and a rotation (passes or not, but closer to the source)."""

    calls = 0

    def generate(self, texts, *, task, n, **options):
        FakeStudent.calls += 1
        out = []
        for t in texts:
            w = t.split()
            out.append([interleave(t), " ".join([w[1], w[0], *w[2:]]), "WRONG " + " ".join(w[::-1]),
                        " ".join(w[2:] + w[:2])])
        return out


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setattr(pipeline, "_load_judge", lambda *a: FakeJudge())
    monkeypatch.setattr(pipeline, "_load_embedder", lambda *a: FakeEmbedder())


def test_a_round_keeps_the_least_similar_passing_candidate_per_source(fakes, monkeypatch, tmp_path, trained,
                                                                        pairs_file, tiny_model):
    FakeStudent.calls = 0
    monkeypatch.setattr(rewrites_module, "load_rewriter", lambda *a: FakeStudent())
    config = TrainConfig(base=str(tiny_model), max_steps=6, batch_size=4, lr=3e-3)
    res = distill(pairs_file, tmp_path / "d", rounds=1, student=trained, train_config=config, quiet=True)
    (r1,) = res.rounds
    sources = {p["src"] for p in make_pairs(40)}
    assert r1.sources == 40 and r1.candidates == 160 and 30 <= r1.added <= 40
    rows = list(StageDir(r1.dataset).iter_rows())
    new = [r for r in rows if r["round"] == 1]
    assert len(rows) == 40 + r1.added and all(r["tgt"] == interleave(r["src"]) and r["src"] in sources for r in new)
    assert len({r["id"] for r in rows}) == len(rows)
    cands = StageDir(next((tmp_path / "d" / "round-1" / "paraphrase").glob("candidates-*")))
    assert cands.is_complete and cands.manifest["config"]["sampling"]["samples"] == 10
    meta = read_meta(r1.student.out)
    assert meta["data"]["rounds"] == {"0": 40, "1": r1.added} and meta["base"] == str(trained)
    assert (r1.dataset / "card.json").exists()

    # A re-run finds every stage done: no sampling, no training.
    monkeypatch.setattr("impdist.student.train.load_trainable", lambda *a, **k: pytest.fail("trained again"))
    calls = FakeStudent.calls
    again = distill(pairs_file, tmp_path / "d", rounds=1, student=trained, train_config=config, quiet=True)
    assert FakeStudent.calls == calls and again.rounds[0].added == r1.added


def test_the_tiny_student_samples_for_real_and_the_round_trains(fakes, tmp_path, trained, pairs_file, tiny_model):
    config = TrainConfig(base=str(tiny_model), max_steps=4, batch_size=4, lr=3e-3)
    sampling = Sampling(samples=2, backend="torch", threads=1)
    res = distill(pairs_file, tmp_path / "d", rounds=2, train_config=config, sampling=sampling, quiet=True)
    assert res.first is not None and res.first.out == tmp_path / "d" / "round-0" / "student"
    assert [r.round for r in res.rounds] == [1, 2] and res.student == tmp_path / "d" / "round-2" / "student"
    groups = list(StageDir(next((tmp_path / "d" / "round-1" / "paraphrase").glob("candidates-*"))).iter_rows())
    assert len(groups) == 40 and all(g["round"] == 1 and len(g["candidates"]) <= 2 for g in groups)
    assert read_meta(res.student)["base"] == str(tmp_path / "d" / "round-1" / "student")
    assert "round 2" in str(res)
    with pytest.raises(Exception, match="rounds"):
        distill(pairs_file, tmp_path / "d", rounds=0)
