"""The two generation stages as shard functions (pure: payload in, rows out).

context stage (paper's stage 0): a news prefix (or a user's document) -> a continuation ->
    its sentences -> one row per full sentence: (context = prefix + preceding sentences, y_orig).
conditional stage: each context -> K sampled continuations -> the first full sentence of each
    -> one row per context with its candidates (the paraphrase / summary candidates of y_orig).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from impdist.decoding.decode import DecodeJob, decode_batches
from impdist.generate.prefixes import news_prefix
from impdist.decoding.sampling import SamplingConfig, SequenceState
from impdist.generate.sentences import first_sentence_done, is_full_sentence, split_sentences
from impdist.generate.teacher import Teacher, load_teacher


@dataclass(frozen=True)
class TeacherSpec:
    """Which teacher runs a shard; part of each stage's config (and so of its run directory)."""

    model: str
    backend: str = "onnx-int8"
    device: str = "cpu"
    threads: int | None = None
    trust_remote_code: bool = False

    def load(self) -> Teacher:
        return load_teacher(self.model, self.backend, self.device, self.threads, self.trust_remote_code)


# The paper's decoding settings (jaehunjung1/impossible-distillation, generate_context / con).
CONTEXT_SAMPLING = dict(temperature=1.0, top_p=0.9, no_repeat_ngram_size=0)
CONTEXT_MAX_NEW_TOKENS = 150
CONDITIONAL_SAMPLING = dict(temperature=0.5, top_p=0.9, no_repeat_ngram_size=3)
CONDITIONAL_MAX_NEW_TOKENS = 100


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


def context_shard(payload: dict) -> Iterator[dict]:
    """Stage 0 on news prefixes [first, first+count): sample a continuation of each, split it."""
    teacher = TeacherSpec(**payload["teacher"]).load()
    cfg = SamplingConfig(banned_ids=teacher.newline_ids, **CONTEXT_SAMPLING)
    seed, first, count = payload["seed"], payload["first"], payload["count"]
    prefixes = [news_prefix(seed, first + i) for i in range(count)]
    jobs = [DecodeJob(tuple(teacher.encode(p)), key=first + i) for i, p in enumerate(prefixes)]
    for j, ids in decode_batches(teacher.backend, jobs, cfg, seed=seed, max_new_tokens=payload["max_new_tokens"],
                                 eos_ids=teacher.eos_ids, pad_id=teacher.pad_id, batch_size=payload["batch_size"]):
        yield from contexts_from_text(teacher.decode(ids), prefix=prefixes[j], doc_id=f"p{first + j}",
                                      source="news-prefix")


def corpus_shard(payload: dict) -> Iterator[dict]:
    """Stage 0 on a user's documents: their own sentences are the contexts (no teacher needed)."""
    for doc_id, text in payload["docs"]:
        yield from contexts_from_text(text, prefix="", doc_id=doc_id, source="corpus")


def _stop_at_first_sentence(teacher: Teacher):
    def stop(state: SequenceState) -> bool:
        return first_sentence_done(teacher.decode(state.generated))
    return stop


def conditional_shard(payload: dict) -> Iterator[dict]:
    """K samples per context; keep each sample's first full sentence as a candidate."""
    teacher = TeacherSpec(**payload["teacher"]).load()
    cfg = SamplingConfig(banned_ids=teacher.newline_ids, **CONDITIONAL_SAMPLING)
    k, seed = payload["samples"], payload["seed"]
    rows = payload["contexts"]
    jobs = []
    for r in rows:
        prompt = tuple(teacher.encode(r["context"]))
        jobs += [DecodeJob(prompt, key=r["index"] * k + s) for s in range(k)]
    samples: list[list[str]] = [[] for _ in rows]
    tokens = [0] * len(rows)
    for j, ids in decode_batches(teacher.backend, jobs, cfg, seed=seed, max_new_tokens=payload["max_new_tokens"],
                                 eos_ids=teacher.eos_ids, pad_id=teacher.pad_id, batch_size=payload["batch_size"],
                                 stop=_stop_at_first_sentence(teacher)):
        tokens[j // k] += len(ids)
        sents = split_sentences(teacher.decode(ids))
        samples[j // k].append(sents[0] if sents else "")
    for r, got, n_tok in zip(rows, samples, tokens):
        kept = [s for s in got if is_full_sentence(s)]
        # Candidates keep their first-seen order; exact repeats are kept once (their count is `kept`).
        yield {"context_id": r["id"], "context": r["context"], "y_orig": r["y_orig"],
               "candidates": list(dict.fromkeys(kept)), "samples": k, "kept": len(kept), "tokens": n_tok}

