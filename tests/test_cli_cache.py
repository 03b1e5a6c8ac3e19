"""`impdist cache list|prune`, and the cache's limit across real `impdist paraphrase` calls on trained
students (each call exports its student's ONNX graphs into the cache)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import astuple
from pathlib import Path

import pytest

from impdist.io import cache
from tests.student.conftest import make_pairs, write_jsonl
from tests.test_bad_input import impdist  # noqa: F401 (fixture: `impdist ARGS` in this process)
from tests.tiny_models import tiny_llama_dir

IMPDIST = str(Path(sys.executable).parent / "impdist")
REPO = Path(__file__).resolve().parents[1]


def _entry(cache_root: Path, name: str, size: int) -> Path:
    """A cache entry of `size` bytes, built (and so used) by another process, which has ended."""
    script = ("import sys\nfrom impdist.io.cache import artefact\n"
              "artefact('onnx', sys.argv[1], 'k', lambda out: (out / 'model.onnx').write_bytes(b'x' * int(sys.argv[2])))")
    subprocess.run([sys.executable, "-c", script, name, str(size)], check=True, cwd=REPO,
                   env={**os.environ, "PYTHONPATH": str(REPO), "IMPDIST_CACHE": str(cache_root),
                        cache.LIMIT_ENV: "none"})
    return cache_root / "onnx" / f"{name}-k"


def test_cache_list_and_prune(cache_root, impdist, monkeypatch):
    code, out, _ = astuple(impdist("cache", "list"))
    assert code == 0 and out.splitlines()[-1].startswith(f"0 B in 0 entries under {cache_root} (limit 20.0 GB")
    assert not cache_root.exists()  # listing makes nothing
    old, mid, new = (_entry(cache_root, name, size) for name, size in (("old", 3000), ("mid", 2000), ("new", 1000)))
    code, out, _ = astuple(impdist("cache", "list"))
    lines = out.splitlines()
    assert code == 0 and [line.split()[-1] for line in lines[1:4]] == ["onnx/old-k", "onnx/mid-k", "onnx/new-k"]
    assert lines[4].startswith("6.0 kB in 3 entries")
    code, out, _ = astuple(impdist("cache", "prune", "--to", "3.5kB"))
    assert code == 0 and out.strip() == "removed 1 entries (3.0 kB); the cache holds 3.0 kB in 2 entries"
    assert not old.exists() and mid.is_dir() and new.is_dir()
    monkeypatch.setenv(cache.LIMIT_ENV, "1500")
    code, out, _ = astuple(impdist("cache", "prune"))  # to the limit
    assert code == 0 and not mid.exists() and new.is_dir()
    code, out, _ = astuple(impdist("cache", "prune", "--all"))
    assert code == 0 and out.startswith("removed 1 entries (1.0 kB)") and not new.exists()


@pytest.mark.parametrize("args,part", [(("--to", "lots"), "Invalid value for '--to': 'lots' is not a size"),
                                       (("--to", "1GB", "--all"), "give --to SIZE or --all, not both")])
def test_bad_prune_options(cache_root, impdist, args, part):
    code, out, err = astuple(impdist("cache", "prune", *args))
    assert code == 2 and part in err and "Traceback" not in err


def test_a_bad_limit_is_one_line(cache_root, impdist, monkeypatch):
    monkeypatch.setenv(cache.LIMIT_ENV, "20 gigs")
    code, _, err = astuple(impdist("cache", "list"))
    assert code == 1 and err == "impdist: error: IMPDIST_CACHE_LIMIT='20 gigs': '20 gigs' is not a size; write e.g. " \
                                "20GB, 500MB or 1.5GiB, or 'none' for no limit\n"


@pytest.mark.slow
def test_the_cache_stays_under_its_limit_across_paraphrase_calls(tmp_path, cache_root, monkeypatch):
    from impdist.student.train import TrainConfig, train

    pairs = write_jsonl(tmp_path / "pairs.jsonl", make_pairs(24))
    train(pairs, tmp_path / "trained", TrainConfig(base=str(tiny_llama_dir(tmp_path / "llama")), max_steps=2,
                                                   batch_size=4), save_every=10, threads=1, quiet=True)
    lines = tmp_path / "in.txt"
    lines.write_text("the city council voted\nheavy rain caused flooding\n")
    monkeypatch.setenv(cache.LIMIT_ENV, "none")

    def paraphrase(student: Path) -> list[cache.CacheEntry]:
        """`impdist paraphrase --model student` in its own process; the entries left in the cache."""
        proc = subprocess.run([IMPDIST, "paraphrase", "--model", str(student), "--input", str(lines), "--threads", "1"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert [json.loads(x)["src"] for x in proc.stdout.splitlines()] == lines.read_text().splitlines()
        return cache.entries()

    # Trained folders of their own (copies): each is exported into cache entries of its own.
    students = [shutil.copytree(tmp_path / "trained", tmp_path / f"student-{i}") for i in range(4)]
    first = paraphrase(students[0])
    assert sorted(e.kind for e in first) == ["onnx", "onnx-int8"]  # its fp32 and int8 graphs
    limit = sum(e.bytes for e in first) * 3 // 2  # room for one call's graphs, not for two
    monkeypatch.setenv(cache.LIMIT_ENV, str(limit))
    for student in students[1:]:
        left = paraphrase(student)
        assert sum(e.bytes for e in left) <= limit
        assert {e.kind for e in left if e.path.name.startswith(f"{student.name}-")} == {"onnx", "onnx-int8"}
    assert not [e for e in left if e.path.name.startswith(("student-0-", "student-1-"))]  # the least recently used went
