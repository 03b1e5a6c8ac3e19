"""The Ray executor against the local one: the same shards and the same final dataset, record for
record, on a local Ray cluster of 2 workers; resume after a partial run; errors name the shard.

Models run with threads=1 on both sides: a Ray actor (num_cpus=1) gets one intra-op thread, and
a different thread count may change a float's last bit, which is not what these tests compare.
"""
from __future__ import annotations

import os
from collections import defaultdict

import pytest
from click.testing import CliRunner

from impdist.cli import cli
from impdist.errors import ImpdistError
from impdist.filters import pipeline
from impdist.filters.pipeline import filter_dataset, read_dataset
from impdist.generate.pipeline import generate
from impdist.io import StageDir, open_stage
from impdist.io.executors import run_shards
from impdist.io.executors import ray as ray_executor
from tests.conftest import read_jsonl
from tests.io._workers import fail_on_3, make_rows
from tests.generate.test_pipeline import corpus, tiny  # noqa: F401 - fixtures shared with the local generate tests

ray = pytest.importorskip("ray")

UNITS = [(f"{i:05d}", (i, 5)) for i in range(12)]
LOADS_ENV = "IMPDIST_TEST_LOADS"  # IMPDIST_*: the Ray executor hands it to its actors


@pytest.fixture(scope="module", autouse=True)
def cluster():
    """One local Ray cluster with 2 CPUs (so 2 worker actors) for the module."""
    started = not ray.is_initialized()
    ray_executor.connect(workers=2)
    assert ray.cluster_resources()["CPU"] == 2
    yield
    if started:
        ray.shutdown()


def _assert_same_stage(a, b):
    """Same shard files byte for byte (names, rows, sha256) and the same rows."""
    assert a.manifest["shards"] == b.manifest["shards"]
    assert list(a.iter_rows()) == list(b.iter_rows())


def test_same_shards_and_resume_after_a_partial_run(tmp_path):
    local = open_stage(tmp_path / "local", "gen", {"k": 1})
    run_shards(local, UNITS, make_rows, quiet=True)
    partial = open_stage(tmp_path / "ray", "gen", {"k": 1})
    run_shards(partial, UNITS[:5], make_rows, quiet=True)  # a run that stopped after 5 shards
    kept = {s: os.stat(partial.shard_path(s)).st_ino for s in partial.shards()}
    with open(partial.shard_path("00002"), "ab") as f:
        f.write(b"garbage")  # a damaged shard is redone, the others are kept
    del kept["00002"]
    run_shards(partial, list(reversed(UNITS)), make_rows, workers=2, quiet=True, executor="ray")
    _assert_same_stage(local, partial)
    assert {s: os.stat(partial.shard_path(s)).st_ino for s in kept} == kept
    assert not list(partial.path.glob("*.tmp-*"))


def test_an_error_names_the_shard_keeps_finished_ones_and_resumes(tmp_path):
    stage = open_stage(tmp_path, "gen", {"k": 1})
    with pytest.raises(ValueError, match="bad payload 3") as e:
        run_shards(stage, UNITS, fail_on_3, workers=2, quiet=True, executor="ray")
    assert "while running shard '00003'" in " ".join(e.value.__notes__)
    assert "00003" not in stage.shards() and {"00000", "00001", "00002"} <= set(stage.shards())
    run_shards(stage, UNITS, make_rows, workers=2, quiet=True, executor="ray")
    assert list(stage.iter_rows()) == [r for _, p in UNITS for r in make_rows(p)]


def test_missing_ray_says_how_to_install_it(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    stage = open_stage(tmp_path, "gen", {"k": 1})
    with pytest.raises(ImpdistError, match=r"pip install 'impdist\[ray\]'"):
        run_shards(stage, UNITS, make_rows, executor="ray")
    with pytest.raises(ValueError, match="executor must be one of"):
        run_shards(stage, UNITS, make_rows, executor="dask")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("A first sentence here. A second sentence follows it.\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["generate", "--contexts", str(corpus), "--out", str(tmp_path / "run"),
                                   "--executor", "ray", "--workers", "2", "--quiet"])
    assert isinstance(res.exception, ImpdistError) and "impdist[ray]" in str(res.exception)


# --- end to end: generate (tiny teacher) -> filter (the embedded MiniLM judge) ------------------

def test_generate_on_ray_gives_the_local_candidates(tiny, corpus, tmp_path, cache_root):
    opts = dict(contexts=corpus, samples=3, backend="torch", batch_size=4, threads=1, quiet=True)
    local = generate(tiny, out=tmp_path / "local", **opts)
    on_ray = generate(tiny, out=tmp_path / "ray", workers=2, executor="ray", **opts)
    assert local.candidates == on_ray.candidates > 0
    for a, b in ((local.contexts_dir, on_ray.contexts_dir), (local.candidates_dir, on_ray.candidates_dir)):
        assert a.name == b.name  # same config and inputs: the same run id
        _assert_same_stage(StageDir(a), StageDir(b))


def _groups(n: int, repeats: int) -> list[dict]:
    """Candidate groups from MRPC dev (source, reference, the reference missing a word, the source
    re-spaced), then `repeats` groups repeated under new ids: exact duplicates in other shards,
    which only a dedup across shards can catch."""
    groups = []
    for r in read_jsonl("mrpc_dev.jsonl")[:n]:
        ref = r["refs"][0]
        words = ref.split()
        groups.append({"context_id": r["id"], "y_orig": r["src"],
                       "candidates": [ref, " ".join(words[:-2] + words[-1:]), "  ".join(r["src"].split())]})
    groups += [{**g, "context_id": f"again-{g['context_id']}"} for g in groups[:repeats]]
    return groups


def scored_and_count_loads(payload: pipeline.ScoredPayload):
    """pipeline.scored_shard, logging which process ran it and how many embedders it has loaded."""
    rows = list(SCORED(payload))
    misses = pipeline._load_embedder.cache_info().misses
    with open(os.environ[LOADS_ENV], "a", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {misses}\n")
    return rows


SCORED = pipeline.scored_shard


def _failing_on(context_id: str):
    def fn(payload):
        if any(g["context_id"] == context_id for g in payload.groups):
            raise RuntimeError(f"stopped at {context_id}")
        return SCORED(payload)
    return fn


def test_filter_on_ray_gives_the_local_dataset_record_for_record(tmp_path, monkeypatch, cache_root):
    import json

    groups = _groups(84, repeats=12)
    source = tmp_path / "candidates.jsonl"
    source.write_text("".join(json.dumps(g) + "\n" for g in groups), encoding="utf-8")
    monkeypatch.setattr(pipeline, "GROUPS_PER_SHARD", 16)  # 6 scored shards over 2 workers
    opts = dict(judge="embedding", threads=1, quiet=True)

    local = filter_dataset(source, tmp_path / "local", **opts)

    # A Ray run that stops in its 4th shard, then the resumed Ray run.
    monkeypatch.setattr(pipeline, "scored_shard", _failing_on(groups[3 * 16]["context_id"]))
    with pytest.raises(RuntimeError, match="stopped at") as e:
        filter_dataset(source, tmp_path / "ray", workers=2, executor="ray", **opts)
    assert "while running shard '000003'" in " ".join(e.value.__notes__)
    monkeypatch.setattr(pipeline, "scored_shard", scored_and_count_loads)
    monkeypatch.setenv(LOADS_ENV, str(tmp_path / "loads.txt"))
    on_ray = filter_dataset(source, tmp_path / "ray", workers=2, executor="ray", **opts)

    assert (on_ray.kept, on_ray.rejected, on_ray.funnel) == (local.kept, local.rejected, local.funnel)
    assert on_ray.scored_dir.name == local.scored_dir.name and on_ray.dataset_dir.name == local.dataset_dir.name
    for rejected in (False, True):
        assert list(read_dataset(on_ray.dataset_dir, rejected=rejected)) == \
               list(read_dataset(local.dataset_dir, rejected=rejected))
    # The repeated groups sit in other shards than their originals: the reduce stage caught them.
    reasons = {r["id"]: r["reason"] for r in read_dataset(local.dataset_dir, rejected=True)}
    again = [reason for rid, reason in reasons.items() if rid.startswith("again-")]
    assert "exact_duplicate" in again, sorted(set(again))
    # Only the shards the stopped run did not finish ran again; each actor loaded MiniLM once.
    loads = defaultdict(set)
    lines = (tmp_path / "loads.txt").read_text().split()
    for pid, misses in zip(lines[::2], lines[1::2]):
        loads[pid].add(int(misses))
    ran = len(lines) // 2
    assert 1 <= ran <= 6 - 3 and len(loads) <= 2 and all(m == {1} for m in loads.values())
