"""Fixtures of the student tests: a tiny random Llama, a pairs file in its vocabulary, and a
student trained on it once per session, all under one session cache (IMPDIST_CACHE)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.tiny_models import WORDS, tiny_llama_dir


def make_pairs(n: int, seed: int = 0) -> list[dict]:
    """n paraphrase pairs of 6-10 vocabulary words: the target is the source reversed."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        src = " ".join(rng.sample(WORDS, rng.randint(6, 10)))
        rows.append({"id": f"p{i}", "src": src, "tgt": " ".join(src.split()[::-1]), "task": "paraphrase",
                     "context_id": f"c{i // 2}", "round": 0})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def student_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMPDIST_CACHE", str(root / "cache"))
        yield root


@pytest.fixture(scope="session")
def tiny_model(student_root) -> Path:
    return tiny_llama_dir(student_root / "llama")


@pytest.fixture(scope="session")
def pairs_file(student_root) -> Path:
    return write_jsonl(student_root / "pairs.jsonl", make_pairs(40))


@pytest.fixture(scope="session")
def trained(student_root, tiny_model, pairs_file) -> Path:
    """A tiny student trained for 30 steps (shared, read-only: copy it to change it)."""
    from impdist.student.train import TrainConfig, train

    train(pairs_file, student_root / "trained", TrainConfig(base=str(tiny_model), max_steps=30, batch_size=4, lr=3e-3),
          save_every=10, threads=1, quiet=True)
    return student_root / "trained"
