"""A distilled dataset as training examples: pairs -> prompts with control codes -> token ids with
a loss mask (labels are -100 everywhere but on the target), plus the held-out slice."""
from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from impdist.io import StageDir, fingerprint, read_jsonl_numbered
from impdist.errors import UnknownTaskError
from impdist.filters.lexical import pair_scores
from impdist.student.codes import PromptFormat, target_text
from impdist.student.errors import StudentError
from impdist.tasks import check_task

IGNORE = -100  # the label value torch's cross-entropy skips


CARD_KEYS = ("task", "judge", "judge_threshold", "filters", "funnel", "kept", "rejected", "diversity")


@dataclass(frozen=True)
class DataInfo:
    """What a student was trained on, for student.json and the model card."""

    path: str
    fingerprint: str
    pairs: int
    tasks: dict[str, int]
    rounds: dict[str, int]
    cards: dict[str, dict]  # per task: the dataset card's judge, threshold, filters and funnel, where there is one

    def to_json(self) -> dict:
        return {"path": self.path, "fingerprint": self.fingerprint, "pairs": self.pairs, "tasks": self.tasks,
                "rounds": self.rounds, "cards": self.cards}


def _check_pair(where: str, row: dict) -> dict:
    for key in ("src", "tgt"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise StudentError(f"{where}: field {key!r} is missing or blank; a training pair looks like "
                               '{"src": "A sentence.", "tgt": "Its paraphrase.", "task": "paraphrase"}')
    try:
        check_task(row.get("task", "paraphrase"))
    except UnknownTaskError as exc:
        raise StudentError(f"{where}: {exc}") from None
    return row


def _dataset_stage(path: Path) -> StageDir:
    from impdist.filters.pipeline import find_dataset  # the filters own the dataset layout

    try:
        return find_dataset(path)
    except StudentError:
        raise
    except Exception as e:  # noqa: BLE001 - reworded: the user gave us this folder as --data
        raise StudentError(f"{path}: not a dataset ({e}). Give the --out folder of `impdist filter`, a "
                           "dataset stage folder, or a JSONL file of {\"src\", \"tgt\"} pairs") from None


def _stage_cards(stage: StageDir) -> dict[str, dict]:
    """Task -> card of a dataset stage (a grown self-distillation dataset keeps one per task)."""
    card_file = stage.path / "card.json"
    if not card_file.exists():
        return {}
    full = json.loads(card_file.read_bytes())
    if isinstance(full.get("cards"), dict):
        return full["cards"]
    card = {k: full[k] for k in CARD_KEYS if k in full}
    return {card.get("task", "paraphrase"): card} if card else {}


def _read_one(path: Path) -> tuple[list[dict], str, dict[str, dict]]:
    if path.is_file():
        return [_check_pair(f"{path}:{n}", r) for n, r in read_jsonl_numbered(path)], fingerprint(path), {}
    if path.is_dir():
        stage = _dataset_stage(path)
        rows = [_check_pair(f"{stage.path} pair {i}", r) for i, r in enumerate(_kept(stage))]
        return rows, fingerprint(stage), _stage_cards(stage)
    raise StudentError(f"{path}: no such file or folder; give the --out folder of `impdist filter`, a "
                       "dataset stage folder, or a JSONL file of {\"src\", \"tgt\"} pairs")


def read_pairs(data: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[list[dict], DataInfo]:
    """The kept pairs of one dataset or several, in order (each a run folder, a dataset stage, or
    a JSONL file of pairs), and what they are; every pair has src, tgt, task, id, context_id and
    round. Several datasets are how one student learns both tasks."""
    paths = [Path(data)] if isinstance(data, (str, os.PathLike)) else [Path(d) for d in data]
    if not paths:
        raise StudentError("no dataset given to train on")
    rows: list[dict] = []
    fps: list[str] = []
    cards: dict[str, dict] = {}
    for path in paths:
        got, fp, found = _read_one(path)
        if not got:
            raise StudentError(f"{path}: holds no pairs to train on; check the filter kept some (its card.md "
                               "shows the funnel) or loosen its thresholds")
        rows += got
        fps.append(fp)
        for task, card in found.items():
            cards.setdefault(task, card)
    for i, r in enumerate(rows):
        r.setdefault("task", "paraphrase")
        r.setdefault("id", str(i))
        r.setdefault("context_id", r["id"])
        r.setdefault("round", 0)
        r.setdefault("scores", {})
    fp = fps[0] if len(fps) == 1 else hashlib.sha256("\n".join(fps).encode()).hexdigest()
    info = DataInfo(", ".join(str(p.resolve()) for p in paths), fp, len(rows), dict(Counter(r["task"] for r in rows)),
                    {str(k): v for k, v in sorted(Counter(int(r["round"]) for r in rows).items())}, cards)
    return rows, info


def _kept(stage: StageDir) -> Iterator[dict]:
    for shard in stage.shards():
        if shard.startswith("kept-"):
            yield from stage.read_shard(shard)


def _unit(key: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (key, seed)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def split_heldout(pairs: Sequence[dict], fraction: float, limit: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held-out): whole contexts go to one side, so no source is seen on both; the held-out
    side gets about `fraction` of the pairs, at most `limit`, and none when fraction is 0."""
    if fraction <= 0 or len(pairs) < 2:
        return list(pairs), []
    ranked = sorted(pairs, key=lambda p: (_unit(str(p["context_id"]), seed), str(p["id"])))
    want = min(limit, max(1, round(fraction * len(pairs))))
    held_ctx, n = set(), 0
    for p in ranked:
        if n >= want:
            break
        if p["context_id"] not in held_ctx:
            held_ctx.add(p["context_id"])
        n += 1
    heldout = [p for p in pairs if p["context_id"] in held_ctx]
    train = [p for p in pairs if p["context_id"] not in held_ctx]
    if not train:  # one context only: better to train on it than on nothing
        return list(pairs), []
    return train, heldout


@dataclass(frozen=True)
class Example:
    """Token ids of one training pair; labels mark the loss (IGNORE on the prompt)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]   # decoder-only: aligned with input_ids; seq2seq: the decoder's targets


def prompt_ids(tokenizer, prompt: str, *, decoder_only: bool) -> list[int]:
    """A prompt's token ids, as in training and serving alike: plain text for a decoder-only
    student (it continues the text), with the tokenizer's special tokens for an encoder."""
    return list(tokenizer(prompt, add_special_tokens=not decoder_only)["input_ids"])


def encode_pairs(pairs: Sequence[dict], tokenizer, fmt: PromptFormat, *, decoder_only: bool, max_length: int,
                 code_dropout: float, exemplar_rate: float, seed: int) -> list[Example]:
    """One Example per pair. The codes come from the pair's own compression and ROUGE-L; which
    are left out is fixed per pair by (seed, id). Too long a prompt loses the end of its source,
    never its target."""
    if not pairs:
        return []
    srcs, tgts = [p["src"] for p in pairs], [p["tgt"] for p in pairs]
    scores = pair_scores(srcs, tgts, "paraphrase", keys=("compression", "rougeL"))
    eos = tokenizer.eos_token_id
    if eos is None:
        raise StudentError("the student's tokenizer has no EOS token; the student could not learn where to stop. "
                           "Pick a base model whose tokenizer defines eos_token")
    out = []
    for i, p in enumerate(pairs):
        rng = random.Random(f"{seed}:{p['id']}")
        controls = fmt.training_controls(p["task"], p["tgt"], float(scores["compression"][i]),
                                         float(scores["rougeL"][i]), rng, code_dropout=code_dropout,
                                         exemplar_rate=exemplar_rate)
        prompt = prompt_ids(tokenizer, fmt.prompt(p["src"], controls), decoder_only=decoder_only)
        target = tokenizer(target_text(p["tgt"], decoder_only=decoder_only), add_special_tokens=False)["input_ids"]
        target = list(target)[: max(1, max_length // 2 - 1)] + [eos]
        if decoder_only:
            prompt = prompt[: max(1, max_length - len(target))]
            out.append(Example(tuple(prompt + target), tuple([IGNORE] * len(prompt) + target)))
        else:
            out.append(Example(tuple(prompt[:max_length]), tuple(target)))
    return out


def collate(batch: Sequence[Example], pad_id: int, *, decoder_only: bool) -> dict[str, np.ndarray]:
    """RIGHT-padded int64 arrays: input_ids, attention_mask, labels (IGNORE on pads)."""
    width = max(len(e.input_ids) for e in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    label_width = width if decoder_only else max(len(e.labels) for e in batch)
    labels = np.full((len(batch), label_width), IGNORE, dtype=np.int64)
    for row, e in enumerate(batch):
        ids[row, : len(e.input_ids)] = e.input_ids
        mask[row, : len(e.input_ids)] = 1
        labels[row, : len(e.labels)] = e.labels
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
