"""Stage functions for the executor tests; module level so spawn workers can import them."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

# Set in the killed subprocess only: the shard that stalls (after one row) until SIGKILL comes.
STALL_ENV = "IMPDIST_TEST_STALL"


def record(i: int, j: int) -> dict:
    """One deterministic record of the shape every stage writes."""
    return {"id": f"{i}-{j}", "src": f"context {i}: naïve café ☃ {j}", "tgt": f"tgt {j} 漢字",
            "task": "paraphrase" if j % 2 else "summary", "context_id": i, "round": 0,
            "scores": {"nli_fwd": j / 7, "rougeL": ((i * j) % 5) / 3}}


def make_rows(payload: tuple[int, int]) -> Iterator[dict]:
    """Generator stage function: `n` records for shard `i`."""
    i, n = payload
    for j in range(n):
        yield record(i, j)


def list_rows(payload: tuple[int, int]) -> list[dict]:
    """The same rows, returned as a list."""
    return list(make_rows(payload))


def slow_rows(payload: tuple[int, int, float]) -> Iterator[dict]:
    """Slow generator; in the stalling subprocess, shard STALL stops after its first row."""
    i, n, delay = payload
    stall = os.environ.get(STALL_ENV)
    for j in range(n):
        yield record(i, j)
        if stall and int(stall.split(":")[0]) == i:
            Path(stall.split(":", 1)[1]).touch()  # tell the test we are mid-shard
            time.sleep(600)
        time.sleep(delay)


def fail_on_3(payload: tuple[int, int]) -> Iterator[dict]:
    """Fails in shard 3 after yielding one row."""
    i, n = payload
    yield record(i, 0)
    if i == 3:
        raise ValueError("bad payload 3")
    for j in range(1, n):
        yield record(i, j)


def write_many(root: str, first: int, count: int) -> None:
    """Process target: write `count` shards into the shared test stage."""
    from impdist.io import open_stage
    stage = open_stage(root, "gen", {"k": 1}, {})
    for i in range(first, first + count):
        stage.write_shard(f"{i:05d}", make_rows((i, 3)))


def gated_rows(payload: tuple[int, int]) -> Iterator[dict]:
    """make_rows, logging each call to $IMPDIST_TEST_CALLS; with $IMPDIST_TEST_GATE set, the first
    call touches GATE/started and waits for GATE/go (so a test can act while this run holds a stage)."""
    with open(os.environ["IMPDIST_TEST_CALLS"], "a") as f:
        f.write(f"{os.getpid()} {payload[0]}\n")
    gate = os.environ.get("IMPDIST_TEST_GATE")
    if gate and not (Path(gate) / "started").exists():
        (Path(gate) / "started").touch()
        while not (Path(gate) / "go").exists():
            time.sleep(0.01)
    return make_rows(payload)


def run_gated(root: str, n: int) -> None:
    """Process target: run the `n` gated shards of the shared test stage, then complete it."""
    from impdist.io import open_stage
    from impdist.io.executors import run_shards
    stage = open_stage(root, "gen", {"k": 1}, {})
    run_shards(stage, [(f"{i:05d}", (i, 2)) for i in range(n)], gated_rows, quiet=True)
    stage.complete()
