"""The two generation stages: their typed configs and payloads, and their shard functions
(pure: payload in, rows out).

context stage (paper's stage 0): a news prefix (or a user's document) -> a continuation ->
    its sentences -> one row per full sentence: (context = prefix + preceding sentences, y_orig).
conditional stage: each context -> K sampled continuations -> the first full sentence of each
    -> one row per context with its candidates (the paraphrase / summary candidates of y_orig).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from impdist.decoding.decode import DecodeJob, decode_batches
from impdist.decoding.runtime import BATCH_BACKEND
from impdist.decoding.sampling import SamplingConfig, SequenceState
from impdist.generate.prefixes import news_prefix
from impdist.generate.sentences import first_sentence_done, is_full_sentence, split_sentences
from impdist.generate.teacher import Teacher, load_teacher
from impdist.domains import POSITIVE_INT, SEED, THREADS, check_fields, setting
from impdist.io.stage_config import StageConfig


@dataclass(frozen=True)
class TeacherSpec:
    """Which teacher runs a shard; part of each stage's config (and so of its run directory)."""

    model: str
    backend: str = BATCH_BACKEND
    device: str = "cpu"
    threads: int | None = setting(THREADS, None, optional=True)
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        check_fields(self)

    def load(self) -> Teacher:
        return load_teacher(self.model, self.backend, self.device, self.threads, self.trust_remote_code)


# The paper's decoding settings (jaehunjung1/impossible-distillation, generate_context / con).
# Constants of the code, recorded in each stage's config so that changing one starts new stages.
CONTEXT_SAMPLING = dict(temperature=1.0, top_p=0.9, no_repeat_ngram_size=0)
CONTEXT_MAX_NEW_TOKENS = 150
CONDITIONAL_SAMPLING = dict(temperature=0.5, top_p=0.9, no_repeat_ngram_size=3)
CONDITIONAL_MAX_NEW_TOKENS = 100


@dataclass(frozen=True)
class NewsContextsConfig(StageConfig):
    """The contexts stage over news-prefix continuations; shard i holds prefixes
    [i * prefixes_per_shard, (i + 1) * prefixes_per_shard) of the seed's prefix sequence."""

    stage = "contexts"
    teacher: TeacherSpec
    seed: int = setting(SEED)
    prefixes_per_shard: int = setting(POSITIVE_INT)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "source": "news-prefix", "max_new_tokens": CONTEXT_MAX_NEW_TOKENS,
                "sampling": CONTEXT_SAMPLING}


@dataclass(frozen=True)
class CorpusContextsConfig(StageConfig):
    """The contexts stage over a user's documents (no teacher): `path` is the file, resolved."""

    stage = "contexts"
    path: str

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "source": "corpus"}


@dataclass(frozen=True)
class CandidatesConfig(StageConfig):
    """The conditional stage: `samples` teacher continuations of each of the first `contexts` contexts."""

    stage = "candidates"
    teacher: TeacherSpec
    seed: int = setting(SEED)
    samples: int = setting(POSITIVE_INT)
    contexts: int = setting(POSITIVE_INT)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "max_new_tokens": CONDITIONAL_MAX_NEW_TOKENS, "sampling": CONDITIONAL_SAMPLING}


@dataclass(frozen=True)
class NewsContextsPayload:
    """One shard of news-prefix contexts: the config's prefixes from index `first` on."""

    config: NewsContextsConfig
    first: int


@dataclass(frozen=True)
class CorpusPayload:
    """One shard of a user's documents, as (doc id, text)."""

    docs: list[tuple[str, str]]


@dataclass(frozen=True)
class CandidatesPayload:
    """One shard of the conditional stage: context rows (with their `index` in the run) to continue."""

    config: CandidatesConfig
    batch_size: int
    contexts: list[dict]


def contexts_from_text(text: str, *, prefix: str, doc_id: str, source: str) -> list[dict]:
    """One row per full sentence of `text`, with the prefix and the sentences before it as context."""
    sents = split_sentences(text)
    rows = []
    for i, sent in enumerate(sents):
        if not is_full_sentence(sent):
            continue
        context = " ".join([prefix, *sents[:i]]).strip() if prefix else " ".join(sents[:i])
        if not context:  # a document's first sentence has nothing to condition on
            continue
        rows.append({"id": f"{doc_id}-s{i}", "doc_id": doc_id, "source": source, "prefix": prefix,
                     "context": context, "y_orig": sent})
    return rows


def context_shard(payload: NewsContextsPayload) -> Iterator[dict]:
    """Stage 0 on news prefixes [first, first + prefixes_per_shard): sample a continuation of each, split it."""
    config = payload.config
    teacher = config.teacher.load()
    cfg = SamplingConfig(banned_ids=teacher.newline_ids, **CONTEXT_SAMPLING)
    seed, first, count = config.seed, payload.first, config.prefixes_per_shard
    prefixes = [news_prefix(seed, first + i) for i in range(count)]
    jobs = [DecodeJob(tuple(teacher.encode(p)), key=first + i) for i, p in enumerate(prefixes)]
    for j, ids in decode_batches(teacher.backend, jobs, cfg, seed=seed, max_new_tokens=CONTEXT_MAX_NEW_TOKENS,
                                 eos_ids=teacher.eos_ids, pad_id=teacher.pad_id, batch_size=count):
        yield from contexts_from_text(teacher.decode(ids), prefix=prefixes[j], doc_id=f"p{first + j}",
                                      source="news-prefix")


def corpus_shard(payload: CorpusPayload) -> Iterator[dict]:
    """Stage 0 on a user's documents: their own sentences are the contexts (no teacher needed)."""
    for doc_id, text in payload.docs:
        yield from contexts_from_text(text, prefix="", doc_id=doc_id, source="corpus")


def _stop_at_first_sentence(teacher: Teacher):
    def stop(state: SequenceState) -> bool:
        return first_sentence_done(teacher.decode(state.generated))
    return stop


def conditional_shard(payload: CandidatesPayload) -> Iterator[dict]:
    """K samples per context; keep each sample's first full sentence as a candidate."""
    teacher = payload.config.teacher.load()
    cfg = SamplingConfig(banned_ids=teacher.newline_ids, **CONDITIONAL_SAMPLING)
    k, seed = payload.config.samples, payload.config.seed
    rows = payload.contexts
    jobs = []
    for r in rows:
        prompt = tuple(teacher.encode(r["context"]))
        jobs += [DecodeJob(prompt, key=r["index"] * k + s) for s in range(k)]
    samples: list[list[str]] = [[] for _ in rows]
    tokens = [0] * len(rows)
    for j, ids in decode_batches(teacher.backend, jobs, cfg, seed=seed, max_new_tokens=CONDITIONAL_MAX_NEW_TOKENS,
                                 eos_ids=teacher.eos_ids, pad_id=teacher.pad_id, batch_size=payload.batch_size,
                                 stop=_stop_at_first_sentence(teacher)):
        tokens[j // k] += len(ids)
        sents = split_sentences(teacher.decode(ids))
        samples[j // k].append(sents[0] if sents else "")
    for r, got, n_tok in zip(rows, samples, tokens):
        kept = [s for s in got if is_full_sentence(s)]
        # Candidates keep their first-seen order; exact repeats are kept once (their count is `kept`).
        yield {"context_id": r["id"], "context": r["context"], "y_orig": r["y_orig"],
               "candidates": list(dict.fromkeys(kept)), "samples": k, "kept": len(kept), "tokens": n_tok}

