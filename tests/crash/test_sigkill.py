"""Crash safety (issues 7 and 17): every resume mechanism SIGKILLed at seeded random moments,
re-run, and compared with an uninterrupted run of the same seed (see tests/crash/harness.py for
what is checked at the end).

The resume mechanisms and the runs that exercise them:
- shard manifests (impdist.io.stage): pool (the process pool behind --workers: run_shards with 2
  spawn workers on cheap rows, the whole process group killed), generate (the CLI: corpus or
  news-prefix contexts, then candidates, on a tiny random Llama), filter (the API with a fake
  judge and embedder, small shards);
- training checkpoints (impdist.student.checkpoints): train (the CLI, a checkpoint every 3 steps,
  or every step so that most kills land inside a save);
- the export's rename (impdist.student.export): export (the CLI: fp32, int8, and fp32 over an
  earlier int8 export);
- the artefact cache (impdist.io.cache): cache (the tiny model's fp32 and int8 ONNX graphs built
  into an empty IMPDIST_CACHE), and every other run, which has its own empty IMPDIST_CACHE;
- the evaluation cache (impdist.evaluation.evaluate): evaluate (the API with its per-system
  cache, the tiny model as the prompted teacher).

Right after each kill, `_after_kill` checks that what the killed run had published is whole: the
manifests' shards verify, every artefact in the cache, the export folder and every evaluation
cache entry equal the reference run's, and every checkpoint loads and is the step it is named.

What legitimately differs between two equal runs (VOLATILE) is a record of when or how fast:
manifest times, student.json's training minutes, the export's date and decoding speed (and the
model card lines that show them), and the seconds an evaluated system took. Checkpoints also
hold the elapsed time, but a finished run has deleted them.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from impdist.io.atomic import is_temp
from tests.crash.harness import (Driver, Volatile, check_manifests, compare_trees, kill_and_recover,
                                 leftover_temps)
from tests.student.conftest import make_pairs, write_jsonl
from tests.tiny_models import WORDS, tiny_llama_dir

pytestmark = pytest.mark.slow

# (stage, variant, trials): 34 trials; odd-numbered trials kill the first re-run as well. "over-int8"
# exports fp32 into a folder that holds an int8 export already (which the export replaces).
PLAN = [("pool", "jsonl", 2), ("pool", "parquet", 2), ("generate", "jsonl", 3), ("generate", "parquet", 2),
        ("generate", "news", 2), ("filter", "jsonl", 3), ("filter", "parquet", 2), ("train", "", 4),
        ("train", "every-step", 2), ("export", "fp32", 2), ("export", "int8", 1), ("export", "over-int8", 2),
        ("cache", "", 3), ("evaluate", "", 4)]
TRIALS = [(stage, variant, i) for stage, variant, n in PLAN for i in range(n)]

VOLATILE = {
    "pool": Volatile(),
    "generate": Volatile(),
    "filter": Volatile(),
    "train": Volatile(json_fields={"student/student.json": ("training.minutes",)}),
    "export": Volatile(json_fields={"export/student.json": ("export.date", "export.evaluation.sentences_per_s")},
                       text_patterns={"export/README.md": (r"exported \S+ as", r"sentences_per_s \| [0-9.e+-]+")}),
    "evaluate": Volatile(json_fields={"evalcache/*.json": ("seconds",)}),
    "cache": Volatile(),
}


@pytest.fixture(scope="module")
def driver():
    d = Driver()
    yield d
    d.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The read-only inputs every run of a stage shares (same paths, so the same run ids)."""
    root = tmp_path_factory.mktemp("crash-inputs")
    rng = random.Random(7)
    docs = [" ".join(" ".join(rng.sample(WORDS, rng.randint(5, 8))).capitalize() + "." for _ in range(3))
            for _ in range(6)]
    (root / "corpus.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    groups = []
    for i in range(40):
        y = rng.sample(WORDS, 8)
        cands = [" ".join([y[0]] + rng.sample(y[1:], 7)), " ".join(rng.sample(WORDS, 8)),
                 " ".join([y[0]] + rng.sample(WORDS, 7))]
        groups.append({"context_id": f"c{i}", "y_orig": " ".join(y), "candidates": cands})
    write_jsonl(root / "candidates.jsonl", groups)
    write_jsonl(root / "pairs.jsonl", make_pairs(40))
    items = [" ".join(rng.sample(WORDS, 7)) for _ in range(10)]
    write_jsonl(root / "eval.jsonl", [{"src": s, "refs": [" ".join(s.split()[::-1])]} for s in items])
    return {"root": root, "model": str(tiny_llama_dir(root / "llama"))}


def _spec(stage: str, variant: str, inputs: dict, references) -> dict:
    root = inputs["root"]
    if stage == "pool":
        return {"out": "run", "fmt": variant}
    if stage == "generate" and variant == "news":
        return {"model": inputs["model"], "news": 12, "out": "run", "fmt": "jsonl"}
    if stage == "generate":
        return {"model": inputs["model"], "corpus": str(root / "corpus.txt"), "out": "run", "fmt": variant}
    if stage == "filter":
        return {"candidates": str(root / "candidates.jsonl"), "out": "run", "fmt": variant}
    if stage == "train":
        return {"model": inputs["model"], "data": str(root / "pairs.jsonl"), "out": "student",
                "save_every": 1 if variant == "every-step" else 3}
    if stage == "cache":
        return {"model": inputs["model"]}
    student = str(references("train", "")[0] / "student")  # the uninterrupted run's student
    if stage == "export":
        return {"model": student, "out": "export", "int8": variant == "int8"}
    return {"model": student, "data": str(root / "eval.jsonl"), "teacher": inputs["model"], "cache_dir": "evalcache",
            "out": "."}


def _env(work) -> dict:
    return {"IMPDIST_CACHE": str(work / "cache")}  # a fresh artefact cache per run folder


@pytest.fixture(scope="module")
def references(driver, inputs, tmp_path_factory):
    """(work folder, seconds) of the uninterrupted run of (stage, variant), made on first use."""
    made: dict[tuple[str, str], tuple] = {}
    root = tmp_path_factory.mktemp("crash-reference")

    def get(stage: str, variant: str):
        if (stage, variant) not in made:
            work = root / f"{stage}-{variant or 'default'}"
            work.mkdir()
            spec = _spec(stage, variant, inputs, get)
            log = root / f"{work.name}.log"
            r = driver.run(stage, spec, cwd=work, log=log, env=_env(work))
            assert r["exit"] == 0, log.read_text()[-4000:]
            print(f"reference {work.name}: {r['seconds']:.2f}s")
            made[stage, variant] = (work, r["seconds"], spec)
        return made[stage, variant]
    return get


def _onnx_outputs(folder) -> list[np.ndarray]:
    """The logits of the exported graph on one fixed prompt (loads it with plain onnxruntime)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = np.array([[1, 5, 17, 42, 99, 7]], dtype=np.int64)
    feed = {}
    for i in session.get_inputs():
        if i.name == "input_ids":
            feed[i.name] = ids
        elif i.name == "attention_mask":
            feed[i.name] = np.ones_like(ids)
        elif i.name == "position_ids":
            feed[i.name] = np.arange(ids.shape[1], dtype=np.int64)[None]
        else:  # past key / values: empty
            shape = [1 if d in ("batch_size",) or (isinstance(d, str) and "batch" in d) else
                     0 if isinstance(d, str) else d for d in i.shape]
            feed[i.name] = np.zeros(shape, dtype=np.float32)
    return session.run(None, feed)


def _published(work, pattern: str) -> list[str]:
    """What `pattern` (a glob) finds under `work` that is not a temp, as paths relative to `work`."""
    return sorted(p.relative_to(work).as_posix() for p in work.glob(pattern)
                  if not any(is_temp(part) for part in p.relative_to(work).parts))


def _checkpoint_problems(work) -> list[str]:
    """A published checkpoint must be whole: its state.json is its step's, its weights load."""
    import torch

    from impdist.student.checkpoints import STATE_FILE, WEIGHTS_FILE

    problems = []
    for rel in _published(work, "student/checkpoints/step-*"):
        try:
            state = json.loads((work / rel / STATE_FILE).read_bytes())
            weights = torch.load(work / rel / WEIGHTS_FILE, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001 - whatever the damage, it is the finding
            problems.append(f"{rel}: cannot be loaded ({type(e).__name__}: {e})")
            continue
        if rel != f"student/checkpoints/step-{state['step']:06d}" or set(weights) != {"model", "optimizer", "scheduler"}:
            problems.append(f"{rel}: holds step {state['step']} and {sorted(weights)}")
    return problems


def _after_kill(stage: str, ref, earlier=None):
    """The check of what a killed run left in `work`: everything published is whole (see the
    module's docstring); `earlier` is a work folder whose export a replacing export may leave."""
    volatile = VOLATILE[stage]

    def check(work) -> list[str]:
        problems = check_manifests(work, finished=False)
        for rel in _published(work, "cache/*/*"):
            if not (work / rel).name.endswith(".lock"):
                problems += compare_trees(ref, work, volatile, under=rel)
        if (work / "export").is_dir():
            diff = compare_trees(ref, work, volatile, under="export")
            if diff and earlier is not None:
                diff = compare_trees(earlier, work, VOLATILE["export"], under="export")
            problems += diff
        for rel in _published(work, "evalcache/*.json"):
            if not (ref / rel).is_file():
                problems.append(f"{rel}: not in the reference run")
            elif volatile.normalize(Path(rel), (ref / rel).read_bytes()) != \
                    volatile.normalize(Path(rel), (work / rel).read_bytes()):
                problems.append(f"{rel}: differs from the reference run's entry")
        if stage == "train" and (work / "student" / "student.json").is_file():
            # student.json is written last: the student is whole, and its checkpoints (being
            # deleted) are no resume point any more.
            problems += [p for p in compare_trees(ref, work, volatile, under="student") if "checkpoints/" not in p]
        elif stage == "train":
            problems += _checkpoint_problems(work)
        return problems
    return check


@pytest.mark.parametrize("stage,variant,trial", TRIALS,
                         ids=[f"{s}-{v}-{i}" if v else f"{s}-{i}" for s, v, i in TRIALS])
def test_sigkill_then_rerun_matches_an_uninterrupted_run(driver, inputs, references, tmp_path, stage, variant,
                                                         trial):
    prepare = earlier = None
    if variant == "over-int8":
        earlier = references("export", "int8")[0]
        prepare = lambda work: shutil.copytree(earlier / "export", work / "export")  # noqa: E731
        variant = "fp32"
    ref, seconds, spec = references(stage, variant)
    work = tmp_path / "work"
    name = f"{stage}-{variant}-{trial}" if prepare is None else f"{stage}-over-int8-{trial}"
    result = kill_and_recover(driver, stage, name, work, spec, seconds, env=_env(work), kills=1 + trial % 2,
                              prepare=prepare, after_kill=_after_kill(stage, ref, earlier))
    print(result)
    assert result.kills >= 1
    assert leftover_temps(work) == [], f"{result}: temp files left behind"
    assert check_manifests(work) == [], f"{result}: manifests disagree with the shards"
    assert compare_trees(ref, work, VOLATILE[stage]) == [], f"{result}: output differs from the uninterrupted run"
    if stage == "export":
        for a, b in zip(_onnx_outputs(ref / "export"), _onnx_outputs(work / "export")):
            np.testing.assert_array_equal(a, b)
    if stage == "evaluate":
        assert json.loads((work / "metrics.json").read_bytes()) == json.loads((ref / "metrics.json").read_bytes())
