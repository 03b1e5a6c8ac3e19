"""Rewrites as candidates: a model samples several rewrites of each source sentence, and each
source with its samples becomes one candidates row (`context_id`, `y_orig`, `candidates`) that the
filter chain pairs with pairing="source". Two kinds of rewriter share this stage: a student
(self-distillation, impdist.distill) and the teacher prompted with an instruction
(impdist.generate.prompted; `impdist run`'s rewrite step)."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

from impdist.decoding.runtime import BATCH_BACKEND
from impdist.errors import ImpdistError
from impdist.generate.prompted import INSTRUCTIONS, PromptedTeacher
from impdist.io import StageDir, canonical_json
from impdist.io.cache import dir_identity
from impdist.io.executors import run_shards
from impdist.domains import NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, SEED, THREADS, UNIT, check_fields, setting
from impdist.io.stage_config import StageConfig
from impdist.student.serve import Paraphraser

SOURCES_PER_SHARD = 32
PROMPTED = "prompted:"  # rewriter spec prefix: the teacher prompted with an instruction


@dataclass(frozen=True)
class Sampling:
    """How the rewriter samples (the paper's self-distillation settings by default)."""

    samples: int = setting(POSITIVE_INT, 10)
    top_p: float = setting(UNIT, 0.9)
    temperature: float = setting(POSITIVE, 0.7)
    backend: str = BATCH_BACKEND
    device: str = "cpu"
    threads: int | None = setting(THREADS, None, optional=True)
    batch_size: int = setting(POSITIVE_INT, 32)
    seed: int = setting(SEED, 0)
    extractive: bool = False  # deletions of the source only (impdist.decoding.extractive)

    def __post_init__(self) -> None:
        check_fields(self)


@lru_cache(maxsize=2)
def load_rewriter(spec: str, backend: str, device: str, threads: int | None):
    """"prompted:MODEL" -> the prompted teacher; anything else is a student folder."""
    if spec.startswith(PROMPTED):
        return PromptedTeacher(spec[len(PROMPTED):], backend=backend, device=device, threads=threads)
    return Paraphraser.load(spec, backend, device, threads=threads)


def rewriter_identity(spec: str) -> str:
    """What decides a rewriter's outputs: a student's files, or the prompted model and instructions."""
    if spec.startswith(PROMPTED):
        return f"{spec} {sorted(INSTRUCTIONS.items())}"
    return dir_identity(Path(spec))


@dataclass(frozen=True)
class RewritesConfig(StageConfig):
    """The rewrites stage (a candidates stage): who rewrites, for which task and round, sampled how.
    The sampling's threads and batch_size change speed only: its config leaves them out."""

    stage = "candidates"
    round: int = setting(NON_NEGATIVE_INT)
    task: str
    rewriter: str
    sampling: Sampling

    def to_json(self) -> dict[str, Any]:
        sampling = {k: v for k, v in asdict(self.sampling).items() if k not in ("threads", "batch_size")}
        return {**super().to_json(), "sampling": sampling}


@dataclass(frozen=True)
class RewritesPayload:
    """One shard of sources ({"src", "context_id"}); `first` is the first one's index in the stage."""

    config: RewritesConfig
    first: int
    sources: list[dict]


def rewrites_shard(payload: RewritesPayload) -> Iterator[dict]:
    """The rewriter's samples for a shard of sources: one candidates row each."""
    cfg, s = payload.config, payload.config.sampling
    rewriter = load_rewriter(cfg.rewriter, s.backend, s.device, s.threads)
    sources = payload.sources
    # One seed per shard: the i-th source of every shard must not share its random streams.
    outs = rewriter.generate([x["src"] for x in sources], task=cfg.task, n=s.samples, sample=True,
                             temperature=s.temperature, top_p=s.top_p, seed=s.seed * 1_000_003 + payload.first,
                             batch_size=s.batch_size, extractive=s.extractive)
    for x, samples in zip(sources, outs):
        cands = [c for c in dict.fromkeys(samples) if c.strip() and c.strip() != x["src"].strip()]
        yield {"context_id": x["context_id"], "y_orig": x["src"], "candidates": cands, "round": cfg.round,
               "task": cfg.task, "samples": s.samples}


def sample_rewrites(folder: Path, rewriter: str, sources: Sequence[dict], task: str, sampling: Sampling, *,
                    inputs: dict, round_: int = 0, quiet: bool = False) -> StageDir:
    """The candidates stage under `folder`: `sampling.samples` rewrites of every source
    ({"src", "context_id"}) by `rewriter`; resumable shard by shard. `inputs` names what the
    sources came from; the sources' own hash is added, so other sources (fewer of them, too)
    make another stage instead of reading a larger one's shards."""
    if not sources:
        raise ImpdistError(f"no sources to rewrite for {task}")
    config = RewritesConfig(round_, task, rewriter, sampling)
    listed = hashlib.sha256(canonical_json(list(sources)).encode()).hexdigest()[:16]
    stage = config.open(folder, inputs={**inputs, "rewriter": rewriter_identity(rewriter), "sources": listed})
    units = [(f"{i // SOURCES_PER_SHARD:06d}", RewritesPayload(config, i, list(sources[i : i + SOURCES_PER_SHARD])))
             for i in range(0, len(sources), SOURCES_PER_SHARD)]
    run_shards(stage, units, rewrites_shard, progress=f"{task}: rewrite", quiet=quiet)
    stage.complete()
    return stage
