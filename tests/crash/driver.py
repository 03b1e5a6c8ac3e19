"""The process the crash harness forks its stage runs from (`python -m tests.crash.driver`).

It imports the heavy libraries (torch, transformers, optimum, onnxruntime) once, then serves
requests read as JSON lines on stdin: fork a child that runs one stage (the real CLI, or the
Python API where the CLI has no hook for fakes), SIGKILL the child's process group after
`kill_after` seconds unless it finished first, and answer one JSON line on stdout:
{"pid", "killed", "exit", "seconds"}. Forking from a warm process makes a run cost its work
only, not 4 s of imports, so a trial of two or three runs takes a second or two.

The parent never runs a torch op or an impdist kernel, so no OpenMP pool exists at fork time
(forking one is what is unsafe); every child starts as fresh as a new `impdist` process.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from tests.filters.test_pipeline import FakeEmbedder
from tests.tiny_models import WORDS


# --- what a child runs -------------------------------------------------------------------------

def _cli(args: list[str]) -> None:
    from impdist.cli import main

    sys.argv = ["impdist", *args]
    main()


class FakeJudge:
    """Equivalent when the two sentences share their first word (deterministic, no model)."""

    spec, symmetric, default_threshold = "fake", False, 0.5

    def score(self, premises, hypotheses):
        return np.array([0.9 if p.split()[:1] == h.split()[:1] else 0.1 for p, h in zip(premises, hypotheses)],
                        np.float32)


def fake_news_shard(payload):
    """The news-prefix context stage with one made-up sentence per prefix instead of the teacher's
    continuation (the tiny random teacher never writes a full sentence, so the real stage would
    give up); the stage around it (its shard loop, manifest and completion) is the real one."""
    from impdist.generate.prefixes import news_prefix
    from impdist.generate.stages import contexts_from_text

    config = payload.config
    for i in range(payload.first, payload.first + config.prefixes_per_shard):
        rng = random.Random(f"{config.seed}:{i}")
        time.sleep(0.03)  # a teacher's pace, so kills land in this stage too
        yield from contexts_from_text(" ".join(rng.sample(WORDS, 6)).capitalize() + ".",
                                      prefix=news_prefix(config.seed, i), doc_id=f"p{i}", source="news-prefix")


def run_generate(spec: dict) -> None:
    """`impdist generate`: contexts from a corpus file, or `news` news-prefix contexts (made up by
    fake_news_shard), then the tiny teacher's candidates."""
    if "news" in spec:
        from impdist.generate import stages

        stages.context_shard = fake_news_shard
    _cli(["generate", "--model", spec["model"], "--contexts", str(spec.get("news") or spec["corpus"]),
          "--samples", "2", "--out", spec["out"], "--backend", "torch", "--batch-size", "4", "--threads", "1",
          "--format", spec["fmt"], "--workers", str(spec.get("workers", 1)), "--quiet"])


def run_filter(spec: dict) -> None:
    """`impdist filter` through its Python API: the CLI has no hook for a fake judge and embedder.
    Small shards (2 groups per scored shard, 8 rows per kept/rejected shard) give the kill many
    shard boundaries to land between."""
    from impdist.filters import pipeline

    pipeline._load_judge = lambda *a: FakeJudge()
    pipeline._load_embedder = lambda *a: FakeEmbedder()
    pipeline.GROUPS_PER_SHARD = 2
    pipeline.ROWS_PER_SHARD = 8
    print(pipeline.filter_dataset(spec["candidates"], spec["out"], task="paraphrase", fmt=spec["fmt"],
                                  threads=1, quiet=True))


def run_train(spec: dict) -> None:
    _cli(["train", "--data", spec["data"], "--out", spec["out"], "--base", spec["model"], "--max-steps", "24",
          "--batch-size", "4", "--lr", "3e-3", "--save-every", str(spec.get("save_every", 3)), "--heldout", "0.2",
          "--threads", "1", "--quiet"])


def run_cache(spec: dict) -> None:
    """The artefact cache alone: the tiny model's fp32 ONNX graph, then its int8 copy, built into
    the (empty) IMPDIST_CACHE of the run folder, as every ONNX backend asks for them."""
    from impdist.models.names import onnx_model_dir

    print(onnx_model_dir(spec["model"], int8=True))


def run_export(spec: dict) -> None:
    _cli(["export", "--model", spec["model"], "--out", spec["out"], "--threads", "1",
          *(["--int8"] if spec.get("int8") else [])])


def run_evaluate(spec: dict) -> None:
    """`impdist evaluate` through its Python API with its per-system cache (the CLI passes none),
    a fake embedder for BERT-iBLEU, and the tiny model as the prompted teacher; the metrics are
    written to `metrics.json` (atomically) as the CLI's --json would print them."""
    from impdist.evaluation import evaluate as ev
    from impdist.io.atomic import write_bytes_atomic

    ev._embedder = lambda *a: FakeEmbedder()
    result = ev.evaluate(spec["model"], spec["data"], task="paraphrase", baselines=["copy", "teacher"],
                         teacher=spec["teacher"], backend="torch", cache=spec["cache_dir"], batch_size=4,
                         threads=1)
    full = {"summary": result.to_json(),
            "systems": [{"system": s.system, "metrics": s.metrics, "outputs": s.outputs} for s in result.systems]}
    write_bytes_atomic(Path(spec["out"]) / "metrics.json", json.dumps(full, indent=1, sort_keys=True).encode())


def run_pool(spec: dict) -> None:
    """The process pool every stage's --workers uses (impdist.io.executors.local), with cheap spawn
    workers: 12 shards of 40 slow rows on 2 workers, the stage function of tests/io/_workers.py."""
    from impdist.io import open_stage
    from impdist.io.executors import run_shards
    from tests.io._workers import slow_rows

    stage = open_stage(spec["out"], "pool", {"rows": 40}, fmt=spec["fmt"])
    run_shards(stage, [(f"{i:05d}", (i, 40, 0.004)) for i in range(12)], slow_rows, workers=2, quiet=True)
    stage.complete()


STAGES = {"pool": run_pool, "generate": run_generate, "filter": run_filter, "train": run_train, "export": run_export,
          "evaluate": run_evaluate, "cache": run_cache}


# --- the fork server -----------------------------------------------------------------------------

def _child(request: dict) -> None:
    """In the forked child: own process group, own log, own cache; never returns."""
    code = 1
    try:
        os.setpgid(0, 0)  # the kill takes the whole group: pool workers die with their stage
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        sys.stdin = open(os.devnull)
        os.environ.update(request.get("env", {}))
        os.chdir(request["cwd"])
        STAGES[request["stage"]](request["spec"])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _serve_one(request: dict) -> dict:
    kill_after = request.get("kill_after")
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(request)
    killed = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if kill_after is not None and not killed and time.monotonic() - start >= kill_after:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:  # setpgid not reached yet: the child alone
                os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.002)
    seconds = time.monotonic() - start
    if killed and os.WIFEXITED(status):
        killed = False  # it finished in the last poll interval: the signal met a zombie
    exit_code = os.waitstatus_to_exitcode(status)
    return {"pid": pid, "killed": killed and exit_code == -signal.SIGKILL, "exit": exit_code, "seconds": seconds}


def main() -> None:
    # Everything a stage imports, loaded once here (imports only: no computation before a fork).
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import optimum.exporters.onnx  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers.models.llama import modeling_llama  # noqa: F401

    import impdist.cli  # noqa: F401
    import impdist.evaluation.evaluate  # noqa: F401
    import impdist.metrics  # noqa: F401
    import impdist.filters.lexical  # noqa: F401
    import impdist.filters.pipeline  # noqa: F401
    import impdist.generate.pipeline  # noqa: F401
    import impdist.generate.prompted  # noqa: F401
    import impdist.student.export  # noqa: F401
    import impdist.student.serve  # noqa: F401
    import impdist.student.train  # noqa: F401

    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        out.write(json.dumps(_serve_one(json.loads(line))) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
