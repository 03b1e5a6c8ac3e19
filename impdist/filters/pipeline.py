"""`impdist filter` as a function: candidates -> the `scored` stage -> the `dataset` stage.

scored (map, resumable per shard): pair each context group, compute the lexical scores of
    every pair, run the judge on the pairs that pass the cheap filters (on all pairs with
    `judge_all`), and store a pair embedding for semantic dedup and the source-target
    similarity (which summary of a source the graph step keeps). Models run only here.
dataset (reduce): the chain's decisions over all stored scores (impdist/filters/chain.py),
    written as `kept-*` and `rejected-*` shards plus the dataset card. `rethreshold=True`
    re-runs only this stage, from the stored scores, without loading any model.
"""
from __future__ import annotations

import base64
import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from impdist.errors import ImpdistError, MalformedInputError
from impdist.filters import card, chain
from impdist.filters.chain import FilterConfig
from impdist.filters.lexical import pair_scores
from impdist.judges.embed import cosine, embed_pairs
from impdist.judges.embed import load_embedder as _load_embedder  # one per process; tests swap it
from impdist.filters.pairs import make_pairs
from impdist.io import StageDir, fingerprint, latest_stage, read_jsonl_numbered
from impdist.io.atomic import write_bytes_atomic
from impdist.io.executors import run_shards
from impdist.io.stage import stage_runs
from impdist.domains import JUDGE_SCORE, POSITIVE_INT, SEED, THREADS, setting
from impdist.io.stage_config import StageConfig
from impdist.models.embedded import DEFAULT_EMBEDDER
from impdist.tasks import check_task

GROUPS_PER_SHARD = 64    # context groups per scored shard (a few hundred pairs)
ROWS_PER_SHARD = 50_000  # rows per kept / rejected shard of the dataset stage
JUDGE_FILE = "judge.json"  # beside the scored shards: the judge's spec and default threshold
SCORES_VERSION = 2  # what a scored record holds; 2 added the source-target similarity


@dataclass
class FilterResult:
    """Where the filter wrote, and what it kept."""

    scored_dir: Path
    dataset_dir: Path
    kept: int
    rejected: int
    funnel: list[tuple[str, int]]

    @property
    def card(self) -> Path:
        return self.dataset_dir / card.CARD_MD

    def __str__(self) -> str:
        steps = " -> ".join(f"{name} {count}" for name, count in self.funnel)
        return (f"funnel: {steps}\n"
                f"{self.kept} pairs kept, {self.rejected} rejected, in {self.dataset_dir}\n"
                f"dataset card: {self.card}")


# --- the stages' configs and the scored stage's payload ------------------------------------------

@dataclass(frozen=True)
class ScoredConfig(StageConfig):
    """The scored stage: how candidates are paired, which judge and embedder score them, and
    (`gate`; None with judge_all) the lexical thresholds a pair must pass to be judged."""

    stage = "scored"
    task: str
    judge: str
    cap: int | None = setting(POSITIVE_INT, optional=True)
    pairing: str
    seed: int = setting(SEED)
    gate: FilterConfig | None
    embedder: str
    scores: int = SCORES_VERSION

    def to_json(self) -> dict[str, Any]:
        gate = None if self.gate is None else {k: getattr(self.gate, k) for k in chain.lexical_settings()}
        return {**super().to_json(), "gate": gate}


@dataclass(frozen=True)
class ScoredPayload:
    """One scored shard: its context groups, and how this run executes the models (not part of
    the config: device, batch size and threads change speed, not scores)."""

    config: ScoredConfig
    device: str
    batch_size: int
    threads: int | None
    groups: list[dict]


@dataclass(frozen=True)
class DatasetConfig(StageConfig):
    """The dataset stage: the chain's thresholds and the judge (and threshold) it reads."""

    stage = "dataset"
    filters: FilterConfig
    judge: str
    judge_threshold: float = setting(JUDGE_SCORE)


# --- input -----------------------------------------------------------------------------------

def _check_group(where: str, row: dict) -> dict:
    for field, kind in (("context_id", (str, int)), ("y_orig", str), ("candidates", list)):
        if not isinstance(row.get(field), kind) or isinstance(row.get(field), bool):  # JSON true is no id
            raise MalformedInputError(
                f"{where}: field {field!r} is missing or not a {'list' if kind is list else 'string'}; a "
                'candidates row looks like {"context_id": "c1", "y_orig": "A sentence.", '
                '"candidates": ["Another sentence."]}')
    if not all(isinstance(c, str) for c in row["candidates"]):
        raise MalformedInputError(f"{where}: every item of 'candidates' must be a string")
    return row


def _no_source(path: Path) -> ImpdistError:
    """The error for a --in that does not exist."""
    return ImpdistError(f"{path}: no such file or directory; give the --out folder of "
                        "`impdist generate`, a candidates stage folder, or a JSONL file of candidates")


def read_groups(source: str | os.PathLike) -> tuple[list[dict], str]:
    """The candidate groups to filter and a fingerprint of them. `source` is a run directory
    (its latest complete `candidates` stage is read), a stage directory, or a JSONL file of
    rows with `context_id`, `y_orig` and `candidates`."""
    path = Path(source)
    if path.is_file():
        groups = [_check_group(f"{path}:{n}", row) for n, row in read_jsonl_numbered(path)]
        return groups, fingerprint(path)
    if not path.is_dir():
        raise _no_source(path)
    stage = StageDir(path) if (path / "manifest.json").exists() else latest_stage(path, "candidates")
    if stage is None:
        raise ImpdistError(f"{path}: holds no complete candidates stage; run `impdist generate "
                           f"--out {path}` first (or let it finish)")
    if not stage.is_complete:
        raise ImpdistError(f"{stage.path}: this stage is not complete; re-run the command that "
                           "writes it so it finishes, then filter")
    groups = [_check_group(f"{stage.path} row {i}", row) for i, row in enumerate(stage.iter_rows())]
    return groups, fingerprint(stage)


# --- the scored stage (models run here) --------------------------------------------------------

@lru_cache(maxsize=4)
def _load_judge(spec: str, device: str, batch_size: int, threads: int | None):
    from impdist.judges.equivalence import load_judge  # torch loads on first use only
    return load_judge(spec, device=device, batch_size=batch_size, threads=threads)


def encode_vector(v: np.ndarray) -> str:
    """A float vector as base64 float16: a JSONL-friendly 2 bytes per dimension."""
    return base64.b64encode(np.asarray(v, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f2").astype(np.float32)


def _pair_embeddings(embedder, records: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """normalize(e(src) + e(tgt)) of non-empty `records` (the same for (a, b) and (b, a)), and
    cos(e(src), e(tgt)); each sentence embedded once."""
    src, tgt = embed_pairs(embedder, [r["src"] for r in records], [r["tgt"] for r in records])
    pairs = src + tgt
    similarity = cosine(src, tgt)
    norms = np.linalg.norm(pairs, axis=1, keepdims=True)
    return pairs / np.maximum(norms, 1e-12), similarity


def scored_shard(payload: ScoredPayload) -> Iterator[dict]:
    """Pairs of a shard's groups with every score the chain needs (see the module docstring)."""
    cfg, threads = payload.config, payload.threads
    task = cfg.task
    records = [p for g in payload.groups for p in make_pairs(g, task, cap=cfg.cap, seed=cfg.seed, pairing=cfg.pairing)]
    if not records:
        return
    srcs = [r["src"] for r in records]
    tgts = [r["tgt"] for r in records]
    for key, values in pair_scores(srcs, tgts, task, threads=threads).items():
        for r, v in zip(records, values.tolist()):
            r["scores"][key] = v
    if cfg.gate is None:
        todo = list(range(len(records)))
    else:
        pairs = chain.ScoredPairs(records)
        ok = np.all([step.passes(pairs) for step in chain.lexical_filters(cfg.gate)], axis=0)
        todo = np.flatnonzero(ok).tolist()
    if todo:
        judge = _load_judge(cfg.judge, payload.device, payload.batch_size, threads)
        sub = [records[i] for i in todo]
        fwd = judge.score([r["src"] for r in sub], [r["tgt"] for r in sub])
        bwd = None
        if task == "paraphrase":
            bwd = fwd if judge.symmetric else judge.score([r["tgt"] for r in sub], [r["src"] for r in sub])
        emb, similarity = _pair_embeddings(_load_embedder(cfg.embedder, payload.device, threads), sub)
        for k, r in enumerate(sub):
            r["scores"]["judge_fwd"] = float(fwd[k])
            r["scores"]["similarity"] = float(similarity[k])
            if bwd is not None:
                r["scores"]["judge_bwd"] = float(bwd[k])
            r["emb"] = encode_vector(emb[k])
    yield from records


def _scored_stage(out: Path, groups: list[dict], source_fp: str, task: str, judge: str, cfg: FilterConfig, *,
                  cap: int | None, pairing: str, seed: int, judge_all: bool, embedder: str, device: str, batch_size: int,
                  threads: int | None, workers: int, fmt: str, quiet: bool, executor: str = "local",
                  ray_address: str | None = None) -> StageDir:
    config = ScoredConfig(task, judge, cap, pairing, seed, gate=None if judge_all else cfg.lexical_gate(),
                          embedder=embedder)
    stage = config.open(out, inputs={"candidates": source_fp}, fmt=fmt)
    units = [(f"{i // GROUPS_PER_SHARD:06d}",
              ScoredPayload(config, device, batch_size, threads, groups[i : i + GROUPS_PER_SHARD]))
             for i in range(0, len(groups), GROUPS_PER_SHARD)]
    run_shards(stage, units, scored_shard, workers=workers, progress="filter: score", quiet=quiet,
               executor=executor, ray_address=ray_address)
    if not (stage.path / JUDGE_FILE).exists():
        default = _load_judge(judge, device, batch_size, threads).default_threshold
        write_bytes_atomic(stage.path / JUDGE_FILE,
                           json.dumps({"judge": judge, "default_threshold": float(default)}).encode())
    stage.complete(rows_in=len(groups))
    return stage


def _latest_scored(out: Path, task: str) -> StageDir:
    """The newest complete scored stage of `task` under `out`, for --rethreshold."""
    best = None
    for stage in stage_runs(out, "scored"):  # a damaged one is named (CorruptStageError), not passed over
        m = stage.manifest
        if m["status"] == "complete" and m["config"].get("task") == task and (stage.path / JUDGE_FILE).exists():
            if best is None or m.get("completed", "") > best[0]:
                best = (m.get("completed", ""), stage)
    if best is None:
        raise ImpdistError(f"{out}: no complete scored stage for task {task!r} to re-threshold; run "
                           f"`impdist filter --out {out} --task {task}` without --rethreshold first")
    return best[1]


# --- the dataset stage (no model) -------------------------------------------------------------

def _chunks(rows: list[dict], prefix: str) -> Iterable[tuple[str, list[dict]]]:
    for i in range(0, max(len(rows), 1), ROWS_PER_SHARD):
        yield f"{prefix}-{i // ROWS_PER_SHARD:05d}", rows[i : i + ROWS_PER_SHARD]


def _teacher(scored: StageDir) -> str | None:
    """The teacher that wrote the candidates `scored` was made from: the model of the candidates
    stage beside it whose fingerprint `scored` records; None for candidates from a file."""
    source = scored.manifest["inputs"].get("candidates")
    for d in sorted(scored.path.parent.glob("candidates-*")):
        try:
            stage = StageDir(d)
            if fingerprint(stage) == source:
                teacher = stage.manifest["config"].get("teacher")
                return teacher.get("model") if isinstance(teacher, dict) else None
        except ImpdistError:
            continue
    return None


def _dataset_stage(out: Path, scored: StageDir, cfg: FilterConfig, fmt: str, quiet: bool) -> FilterResult:
    judge = json.loads((scored.path / JUDGE_FILE).read_bytes())
    threshold = cfg.judge_threshold if cfg.judge_threshold is not None else judge["default_threshold"]
    stage = DatasetConfig(cfg, judge["judge"], threshold).open(out, inputs={"scored": fingerprint(scored)}, fmt=fmt)
    card_json = stage.path / card.CARD_JSON
    if stage.is_complete and card_json.exists():
        stage.complete()  # re-stamp: the dataset asked for last is the one `read_dataset(out)` reads
        info = json.loads(card_json.read_bytes())
        return FilterResult(scored.path, stage.path, info["kept"], info["rejected"],
                            [tuple(step) for step in info["funnel"]])
    records = list(scored.iter_rows())
    emb = None
    first = next((r["emb"] for r in records if "emb" in r), None)
    if first is not None:  # rows the judge never saw have no embedding: NaN rows
        emb = np.full((len(records), len(decode_vector(first))), np.nan, dtype=np.float32)
        for i, r in enumerate(records):
            if "emb" in r:
                emb[i] = decode_vector(r["emb"])
    decision = chain.decide(records, cfg, threshold, emb)
    kept, rejected = [], []
    for r, reason in zip(records, decision.reasons):
        r.pop("emb", None)
        if reason:
            rejected.append({**r, "reason": reason})
        else:
            kept.append(r)
    for prefix, rows in (("kept", kept), ("rejected", rejected)):
        for shard, chunk in _chunks(rows, prefix):
            if not stage.is_done(shard):
                stage.write_shard(shard, chunk)
    card.write_card(stage.path, kept=kept, rejected=rejected, funnel=decision.funnel,
                    meta={"task": cfg.task, "judge": judge["judge"], "judge_threshold": threshold,
                          "filters": cfg.to_json(), "scored": str(scored.path), "teacher": _teacher(scored)})
    stage.complete(rows_in=len(records), rows_out=len(kept), dropped=Counter(r["reason"] for r in rejected))
    return FilterResult(scored.path, stage.path, len(kept), len(rejected), decision.funnel)


def filter_dataset(
    source: str | os.PathLike = "runs/default",
    out: str | os.PathLike | None = None,
    *,
    task: str = "paraphrase",
    judge: str = "embedding",
    config: FilterConfig | None = None,
    cap: int | None = 32,
    pairing: str = "group",
    seed: int = 0,
    judge_all: bool = False,
    embedder: str = DEFAULT_EMBEDDER,
    device: str = "cpu",
    batch_size: int = 32,
    threads: int | None = None,
    workers: int = 1,
    fmt: str = "jsonl",
    rethreshold: bool = False,
    quiet: bool = False,
    executor: str = "local",
    ray_address: str | None = None,
) -> FilterResult:
    """Pair, score and filter the candidates in `source` into a dataset under `out` (default:
    `source` when it is a folder). pairing="source" pairs each y_orig with its candidates only
    (see impdist/filters/pairs.py). With `rethreshold`, rebuild the dataset from the scores
    already stored under `out` with `config`'s thresholds, without running any model.
    `executor="ray"` scores the shards on `workers` Ray actors; the dataset stage (the dedup and
    graph steps across shards) always runs here, over all the stored scores."""
    check_task(task)
    for name, value, domain in (("batch_size", batch_size, POSITIVE_INT), ("workers", workers, POSITIVE_INT)):
        domain.check(value, name)
    THREADS.check(threads, "threads", optional=True)
    cfg = replace(config or FilterConfig(task=task), task=task)
    if out is None:
        if not Path(source).exists():
            raise _no_source(Path(source))
        if not Path(source).is_dir():
            raise ImpdistError(f"--out is needed when the input {source} is a file")
        out = source
    out = Path(out)
    if rethreshold:
        scored = _latest_scored(out, task)
    else:
        groups, source_fp = read_groups(source)
        if not groups:
            raise ImpdistError(f"{source}: holds no candidate groups to filter; each line must be an object like "
                               '{"context_id": "c1", "y_orig": "A sentence.", "candidates": ["Another sentence."]}')
        scored = _scored_stage(out, groups, source_fp, task, judge, cfg, cap=cap, pairing=pairing, seed=seed,
                               judge_all=judge_all,
                               embedder=embedder, device=device, batch_size=batch_size, threads=threads,
                               workers=workers, fmt=fmt, quiet=quiet, executor=executor, ray_address=ray_address)
    return _dataset_stage(out, scored, cfg, fmt, quiet)


def find_dataset(path: str | os.PathLike) -> StageDir:
    """A dataset stage: `path` itself, or the latest complete one under a run directory."""
    p = Path(path)
    stage = StageDir(p) if (p / "manifest.json").exists() else latest_stage(p, "dataset")
    if stage is None or stage.name != "dataset":
        raise ImpdistError(f"{p}: holds no complete dataset; run `impdist filter --out {p}` first")
    return stage


def read_dataset(path: str | os.PathLike, *, rejected: bool = False) -> Iterator[dict]:
    """The kept pairs (or the rejected ones) of a dataset, in order."""
    stage = find_dataset(path)
    prefix = "rejected-" if rejected else "kept-"
    for shard in stage.shards():
        if shard.startswith(prefix):
            yield from stage.read_shard(shard)
