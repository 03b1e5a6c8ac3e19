"""`impdist generate` as a function: the context stage, then the conditional stage, each a
resumable stage directory under `out` (see impdist/io/stage.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from impdist.domains import POSITIVE_INT, SEED, THREADS
from impdist.errors import ImpdistError
from impdist.generate import stages
from impdist.decoding.runtime import BATCH_BACKEND, check_backend
from impdist.generate.stages import (CandidatesConfig, CandidatesPayload, CorpusContextsConfig, CorpusPayload,
                                     NewsContextsConfig, NewsContextsPayload, TeacherSpec)
from impdist.io import StageDir, fingerprint, read_texts
from impdist.io.executors import run_shards
from impdist.models.embedded import DEFAULT_TEACHER
from impdist.models.names import resolve

DOCS_PER_SHARD = 64
CONTEXTS_PER_SHARD = 4


@dataclass
class GenerateResult:
    """Where the stages wrote, and how much."""

    contexts_dir: Path
    candidates_dir: Path
    contexts: int
    candidates: int

    def __str__(self) -> str:
        return (f"{self.contexts} contexts in {self.contexts_dir}\n"
                f"{self.candidates} candidates in {self.candidates_dir}")


def _check(contexts: int | str | os.PathLike, samples: int, backend: str, batch_size: int, workers: int,
           seed: int, threads: int | None) -> None:
    """The arguments' domains, before any folder is made or model loaded."""
    check_backend(backend)
    SEED.check(seed, "seed")
    THREADS.check(threads, "threads", optional=True)
    if isinstance(contexts, int):
        POSITIVE_INT.check(contexts, "contexts")
    for name, value in (("samples", samples), ("batch_size", batch_size), ("workers", workers)):
        POSITIVE_INT.check(value, name)


def _news_contexts(out: Path, teacher: TeacherSpec, n: int, seed: int, batch_size: int, quiet: bool,
                   fmt: str) -> StageDir:
    """Prefix shards of batch_size prefixes each, added until the stage holds >= n contexts.
    Shards depend only on (seed, index), so asking for more contexts later extends the run."""
    config = NewsContextsConfig(teacher, seed, prefixes_per_shard=batch_size)
    stage = config.open(out, inputs={}, fmt=fmt)
    # A teacher that writes few full sentences would loop for ever: give up after a budget.
    budget = 8 * (n // batch_size + 1) + 8
    have = shard = 0
    while have < n:
        if shard >= budget:
            raise ImpdistError(f"the teacher wrote only {have} usable sentences in {shard * batch_size} "
                               f"continuations, short of the {n} contexts asked for: check the model "
                               f"({teacher.model!r}) writes English text, or ask for fewer contexts")
        name = f"{shard:06d}"
        payload = NewsContextsPayload(config, first=shard * batch_size)
        run_shards(stage, [(name, payload)], stages.context_shard, workers=1, progress="contexts", quiet=quiet)
        have += stage.manifest["shards"][name]["rows"]
        shard += 1
    stage.complete()  # complete for this n; a larger n later reopens it (record_shard) and completes it again
    return stage


def _corpus_contexts(out: Path, path: Path, workers: int, quiet: bool, fmt: str, executor: str,
                     ray_address: str | None) -> StageDir:
    docs = [(f"d{i}", text) for i, text in enumerate(read_texts(path))]
    stat = path.stat()
    config = CorpusContextsConfig(str(path.resolve()))
    stage = config.open(out, inputs={"corpus": f"{stat.st_size}:{stat.st_mtime_ns}"}, fmt=fmt)
    units = [(f"{i // DOCS_PER_SHARD:06d}", CorpusPayload(docs[i : i + DOCS_PER_SHARD]))
             for i in range(0, len(docs), DOCS_PER_SHARD)]
    run_shards(stage, units, stages.corpus_shard, workers=workers, progress="contexts", quiet=quiet,
               executor=executor, ray_address=ray_address)
    stage.complete(rows_in=len(docs))
    return stage


def generate(
    model: str = DEFAULT_TEACHER,
    contexts: int | str | os.PathLike = 8,
    samples: int = 8,
    out: str | os.PathLike = "runs/default",
    *,
    backend: str = BATCH_BACKEND,
    device: str = "cpu",
    seed: int = 0,
    batch_size: int = 16,
    fmt: str = "jsonl",
    threads: int | None = None,
    workers: int = 1,
    quiet: bool = False,
    trust_remote_code: bool = False,
    executor: str = "local",
    ray_address: str | None = None,
) -> GenerateResult:
    """Contexts (N news-prefix continuations, or the sentences of a corpus file), then `samples`
    teacher continuations per context, each cut to its first full sentence. `executor="ray"`
    runs the shards on `workers` Ray actors (news-prefix contexts stay in this process: that
    stage adds one shard at a time until it has enough)."""
    _check(contexts, samples, backend, batch_size, workers, seed, threads)
    resolve(model)  # an unknown --model is refused before any stage folder is made (a corpus stage needs none)
    out = Path(out)
    teacher = TeacherSpec(model=model, backend=backend, device=device, threads=threads,
                          trust_remote_code=trust_remote_code)
    if isinstance(contexts, int):
        ctx_stage = _news_contexts(out, teacher, contexts, seed, batch_size, quiet, fmt)
        limit = contexts
    else:
        ctx_stage = _corpus_contexts(out, Path(contexts), workers, quiet, fmt, executor, ray_address)
        limit = None
    rows = list(ctx_stage.iter_rows())[:limit]
    if not rows:
        raise ImpdistError(f"no usable context came out of {contexts}: every sentence was too short "
                           "or had no preceding text; give longer documents (several sentences per line)")
    for i, r in enumerate(rows):
        r["index"] = i
    config = CandidatesConfig(teacher, seed, samples, contexts=len(rows))
    cand_stage = config.open(out, inputs={"contexts": fingerprint(ctx_stage)}, fmt=fmt)
    units = [(f"{i // CONTEXTS_PER_SHARD:06d}", CandidatesPayload(config, batch_size, rows[i : i + CONTEXTS_PER_SHARD]))
             for i in range(0, len(rows), CONTEXTS_PER_SHARD)]
    run_shards(cand_stage, units, stages.conditional_shard, workers=workers, progress="candidates", quiet=quiet,
               executor=executor, ray_address=ray_address)
    cand_stage.complete(rows_in=len(rows))
    n_cands = sum(len(r["candidates"]) for r in cand_stage.iter_rows())
    return GenerateResult(ctx_stage.path, cand_stage.path, len(rows), n_cands)
