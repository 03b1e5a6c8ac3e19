"""Semantic-equivalence judges: one score per (premise, hypothesis) pair, loaded from a spec string.

  embedding[:MODEL]   cosine of sentence embeddings (symmetric); MODEL defaults to minilm-l6
  nli:MODEL           P(entailment) of an NLI sequence classifier (label found in config.id2label)
  paraphrase:MODEL    P(paraphrase) of a binary sequence classifier, e.g. one `impdist judge train`
                      wrote (its impdist_judge.json names the positive label and the threshold)

MODEL is anything impdist.models resolves: an embedded name, a local directory or a hub id.
"""
from __future__ import annotations

import json
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from impdist.decoding.runtime import set_torch_threads
from impdist.errors import ImpdistError
from impdist.judges.embed import Embedder, length_batches, pair_similarity
from impdist.models.embedded import DEFAULT_EMBEDDER
from impdist.models.names import hf_model_dir, load_tokenizer

__all__ = ["Judge", "JudgeError", "EmbeddingJudge", "ClassifierJudge", "load_judge",
           "bidirectional_scores", "JUDGE_META", "KINDS"]

JUDGE_META = "impdist_judge.json"  # written next to a trained judge's weights by judge_train
KINDS = ("embedding", "nli", "paraphrase")
MAX_LENGTH = 256                   # tokens per pair; longer pairs are truncated (longest first)

# Best-F1 cosine threshold of the embedded MiniLM (minilm-l6) on the held-out 20% of
# the shipped mrpc-dev-labelled set (impdist/data/mrpc_dev_labelled.jsonl; heldout_mask, 819 pairs, 552
# paraphrases): `impdist judge calibrate --judge embedding --data mrpc-dev-labelled` gave ROC AUC 0.717,
# F1 0.823 (P 0.712, R 0.975) at 0.5512. Other embedding models get it too, for want of a better
# guess: calibrate them and pass a threshold.
EMBEDDING_THRESHOLD = 0.5512
NLI_THRESHOLD = 0.75               # P(entailment) in both directions, as in the paper
PARAPHRASE_THRESHOLD = 0.5         # when the model brings no calibrated threshold

_ENTAILMENT_PREFIX = "entail"      # ENTAILMENT, entailment, entails; not "not_entailment"
_PARAPHRASE_NAMES = ("paraphrase", "equivalent", "duplicate", "positive", "yes", "true", "1", "label_1")


class JudgeError(ImpdistError):
    """A judge spec names no known kind, or its model lacks what the kind needs (e.g. an entailment label)."""


@runtime_checkable
class Judge(Protocol):
    """Scores pairs; higher means more equivalent (or more entailed, for NLI)."""

    spec: str                  # the spec string it was loaded from
    symmetric: bool            # True when score(a, b) == score(b, a)
    default_threshold: float

    def score(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """float32, one score per pair."""
        ...


def load_judge(spec: str, *, device: str = "cpu", batch_size: int = 32,
               threads: int | None = None) -> Judge:
    """The judge a spec names: ``embedding[:MODEL]``, ``nli:MODEL`` or ``paraphrase:MODEL``."""
    kind, _, model = spec.partition(":")
    if kind not in KINDS:
        raise JudgeError(f"unknown judge {spec!r}: a judge spec is 'embedding', 'embedding:MODEL', "
                         "'nli:MODEL' or 'paraphrase:MODEL' (MODEL: an embedded name, a local "
                         "directory or a hub id).")
    if kind == "embedding":
        return EmbeddingJudge(model or DEFAULT_EMBEDDER, device=device, batch_size=batch_size,
                              threads=threads, spec=spec)
    if not model:
        raise JudgeError(f"judge {spec!r} names no model: write {kind}:MODEL, e.g. {kind}:DIR for a "
                         "directory written by `impdist judge train`.")
    return ClassifierJudge(model, kind, device=device, batch_size=batch_size, threads=threads, spec=spec)


def bidirectional_scores(judge: Judge, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Scores for symmetric equivalence: score(a, b), or min(score(a, b), score(b, a)) when the
    judge is directional, so that both sentences must entail each other (the paraphrase filter)."""
    if judge.symmetric:
        return judge.score(a, b)
    n = len(a)
    both = judge.score(list(a) + list(b), list(b) + list(a))  # one call: batches sort across both
    return np.minimum(both[:n], both[n:])


class EmbeddingJudge:
    """Cosine similarity of L2-normalised sentence embeddings; each distinct text is embedded once."""

    symmetric = True
    default_threshold = EMBEDDING_THRESHOLD

    def __init__(self, model: str = DEFAULT_EMBEDDER, *, device: str = "cpu", batch_size: int = 32,
                 threads: int | None = None, spec: str | None = None) -> None:
        self.spec = spec or f"embedding:{model}"
        self.embedder = Embedder(model, device=device, batch_size=batch_size, threads=threads)

    def score(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        _same_length(premises, hypotheses)
        return pair_similarity(self.embedder, premises, hypotheses).astype(np.float32)


class ClassifierJudge:
    """A cross-encoder sequence classifier; the score is the softmax probability of one label."""

    symmetric = False

    def __init__(self, model: str, kind: str = "nli", *, device: str = "cpu", batch_size: int = 32,
                 threads: int | None = None, max_length: int = MAX_LENGTH,
                 spec: str | None = None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        path = hf_model_dir(model, role="any")
        set_torch_threads(threads, device)
        self.spec = spec or f"{kind}:{model}"
        self.path = path
        self.device = torch.device(device)
        self.batch_size, self.max_length = batch_size, max_length
        self.meta: dict = json.loads((path / JUDGE_META).read_text()) if (path / JUDGE_META).is_file() else {}
        self.classifier, info = AutoModelForSequenceClassification.from_pretrained(
            path, dtype=torch.float32, output_loading_info=True)
        prefix = self.classifier.base_model_prefix
        head = sorted(k for k in info["missing_keys"] if not k.startswith(prefix))
        if head:  # a bare encoder (e.g. minilm-l6): its classification head would be random
            raise JudgeError(f"{model} is not a trained sequence classifier (its weights lack "
                             f"{', '.join(head[:3])}); give an NLI or paraphrase classifier, or "
                             "train one from an encoder with `impdist judge train`.")
        self.classifier.to(self.device).eval()
        self.tokenizer = load_tokenizer(path)
        config = self.classifier.config
        self.labels: tuple[str, ...] = tuple(str(config.id2label[i]) for i in range(config.num_labels))
        if kind == "nli":
            self.positive = _entailment_index(self.labels, model)
            self.default_threshold = NLI_THRESHOLD
        else:
            self.positive = _paraphrase_index(self.labels, self.meta, model)
            self.default_threshold = float(self.meta.get("threshold", PARAPHRASE_THRESHOLD))

    def score(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        return self.probabilities(premises, hypotheses)[:, self.positive]

    def probabilities(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """(n, number of labels) float32 softmax over the labels, in id2label order."""
        import torch

        _same_length(premises, hypotheses)
        out = np.zeros((len(premises), len(self.labels)), dtype=np.float32)
        lengths = [len(p) + len(h) for p, h in zip(premises, hypotheses)]
        for idx in length_batches(lengths, self.batch_size):
            batch = self.tokenizer([premises[i] for i in idx], [hypotheses[i] for i in idx],
                                   padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="pt").to(self.device)
            with torch.inference_mode():
                logits = self.classifier(**batch).logits
            out[idx] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return out


def _entailment_index(labels: Sequence[str], model: str) -> int:
    found = [i for i, name in enumerate(labels) if name.lower().startswith(_ENTAILMENT_PREFIX)]
    if len(found) != 1:
        raise JudgeError(f"{model} is not an NLI model impdist can read: its config.id2label has "
                         f"{_names(labels)} and {'no' if not found else 'more than one'} entailment "
                         "label. Use an NLI classifier whose id2label names its labels "
                         "(e.g. entailment/neutral/contradiction), or fix id2label in its config.json.")
    return found[0]


def _paraphrase_index(labels: Sequence[str], meta: dict, model: str) -> int:
    wanted = meta.get("positive_label")
    if wanted is not None and wanted in labels:
        return labels.index(wanted)
    found = [i for i, name in enumerate(labels) if name.lower() in _PARAPHRASE_NAMES]
    if len(labels) != 2 or len(found) != 1:
        raise JudgeError(f"{model} is not a binary paraphrase classifier impdist can read: its "
                         f"config.id2label has {_names(labels)}. Expected two labels, one of them "
                         f"named {', '.join(_PARAPHRASE_NAMES[:3])} or 1/LABEL_1, or a {JUDGE_META} "
                         "naming the positive label.")
    return found[0]


def _names(labels: Sequence[str]) -> str:
    return ", ".join(f"{i}: {name!r}" for i, name in enumerate(labels)) or "no labels"


def _same_length(premises: Sequence[str], hypotheses: Sequence[str]) -> None:
    if len(premises) != len(hypotheses):
        raise ValueError(f"premises and hypotheses must pair up: {len(premises)} != {len(hypotheses)}")
