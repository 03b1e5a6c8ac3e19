"""Fine-tune a cross-encoder judge from an encoder on labelled pairs (`impdist judge train`).

The classifier (the encoder plus a new classification head) learns on the training part of the
file, never the held-out part (labelled.heldout_mask), and is evaluated and, for paraphrase
judges, calibrated on the held-out part. The result is cached like any model, keyed by the base
model's identity, the data's sha256, the label set and the training config, then copied to `out`.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np

from impdist.decoding.runtime import set_torch_threads
from impdist.domains import FRACTION, INNER_FRACTION, JUDGE_MAX_LENGTH, NON_NEGATIVE, POSITIVE, POSITIVE_INT, SEED, \
    THREADS, check_fields, setting
from impdist.io.atomic import publish_dir
from impdist.io.cache import artefact, cache_key
from impdist.errors import ImpdistError
from impdist.judges.calibrate import calibrate, read_two_classes
from impdist.judges.equivalence import JUDGE_META, ClassifierJudge, JudgeError
from impdist.judges.labelled import HOLDOUT, LabelledPairs
from impdist.models.names import ResolvedModel, hf_model_dir, load_tokenizer, resolve
from impdist.progress import Progress

__all__ = ["train_judge", "JudgeReport", "JudgeTrainConfig"]

Labels = Literal["nli", "paraphrase"]
_FORMAT = 1  # bumped when training or the files written change, so old cache entries are not reused

# (epochs, lr) when not given, per label set, from minilm-l6 on 2 idle CPU cores (held-out 20%):
#   nli on sick_nli_dev (3,964 pairs, ~22 tokens): 3 epochs at 5e-5 -> 87.2% 3-way accuracy, ~5.5 min;
#   paraphrase on mrpc_dev_labelled (3,257 pairs x 2 orders, ~53 tokens): 1 epoch at 5e-5 gave
#   ROC AUC 0.789, at 1e-4 0.844, ~4-6 min (4x SICK's tokens per epoch: one epoch is the budget).
DEFAULTS: dict[str, tuple[float, float]] = {"nli": (3.0, 5e-5), "paraphrase": (1.0, 1e-4)}


@dataclass(frozen=True)
class JudgeTrainConfig:
    """Everything besides the base model and the data that changes the trained judge (the
    student's training has its own, impdist.student.train.TrainConfig)."""

    labels: Labels
    epochs: float = setting(POSITIVE)
    batch_size: int = setting(POSITIVE_INT)
    lr: float = setting(POSITIVE)
    max_length: int = setting(JUDGE_MAX_LENGTH)
    holdout: float = setting(INNER_FRACTION)
    seed: int = setting(SEED)
    warmup: float = setting(FRACTION, 0.1)   # fraction of the steps with a linearly rising learning rate
    weight_decay: float = setting(NON_NEGATIVE, 0.01)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class JudgeReport:
    """Where the judge went, whether it came from the cache, and its impdist_judge.json."""

    out: Path
    cached: bool          # True when an identical judge was already built: no training ran
    seconds: float        # wall time of this call
    meta: dict

    @property
    def heldout(self) -> dict:
        """The held-out calibration (calibrate.Calibration as a dict)."""
        return self.meta["heldout"]

    def __str__(self) -> str:
        h, how = self.heldout, "from the cache" if self.cached else f"trained in {self.seconds:.0f} s"
        acc = "" if h.get("accuracy") is None else f"3-way accuracy {h['accuracy']:.3f}, "
        return (f"{self.meta['kind']} judge in {self.out} ({how}; load it as "
                f"{self.meta['kind']}:{self.out})\nheld-out {h['data']} (n={h['n']}): {acc}"
                f"ROC AUC {h['roc_auc']:.3f}, best F1 {h['f1']:.3f} at threshold {h['threshold']:.3f} "
                f"(P {h['precision']:.3f}, R {h['recall']:.3f})")


def train_judge(base: str, data: str | PathLike, labels: Labels, out: str | PathLike, *,
                epochs: float | None = None, batch_size: int = 16, lr: float | None = None,
                max_length: int = 128, holdout: float = HOLDOUT, seed: int = 0,
                threads: int | None = None, quiet: bool = False) -> JudgeReport:
    """Fine-tune `base` as an NLI (3-way, SICK) or paraphrase (binary, MRPC/STS) judge into `out`.

    epochs and lr default per label set (DEFAULTS); an epoch over symmetric pairs is both orders.
    """
    start = time.monotonic()
    THREADS.check(threads, "threads", optional=True)
    pairs = read_two_classes(data)
    _check_labels(pairs, labels)
    default_epochs, default_lr = DEFAULTS[labels]
    config = JudgeTrainConfig(labels, default_epochs if epochs is None else epochs, batch_size,
                              default_lr if lr is None else lr, max_length, holdout, seed)
    resolved = resolve(base)
    base_dir = hf_model_dir(base, role="any")
    key = cache_key(resolved.identity, data=pairs.sha256, format=_FORMAT, **asdict(config))
    built: list[bool] = []

    def build(tmp: Path) -> None:
        built.append(True)
        set_torch_threads(threads)
        _train(resolved, base_dir, pairs, config, tmp, quiet=quiet)

    _install(artefact("judge", f"{Path(base).name}-{labels}-{pairs.name}", key, build), Path(out))
    meta = json.loads((Path(out) / JUDGE_META).read_text())
    return JudgeReport(Path(out), not built, time.monotonic() - start, meta)


def _check_labels(pairs: LabelledPairs, labels: str) -> None:
    if labels not in ("nli", "paraphrase"):
        raise JudgeError(f"labels must be 'nli' or 'paraphrase', not {labels!r}")
    if labels == "nli" and not pairs.directional:
        raise JudgeError(f"{pairs.path} is {pairs.format.upper()} data (symmetric pairs with binary "
                         "labels); an NLI judge trains on SICK-style premise/hypothesis pairs. Use "
                         "labels='paraphrase' (--labels paraphrase) for this file.")
    if labels == "paraphrase" and pairs.directional:
        raise JudgeError(f"{pairs.path} is SICK data (premise/hypothesis with NLI labels); a "
                         "paraphrase judge trains on MRPC or STS pairs. Use labels='nli' for this file.")


def _train(base: ResolvedModel, base_dir: Path, pairs: LabelledPairs, config: JudgeTrainConfig, out: Path,
           *, quiet: bool) -> None:
    """Fit, save (model, tokenizer, impdist_judge.json) into out, and calibrate on the held-out part."""
    import torch

    start = time.monotonic()
    train = pairs.split("train", config.holdout)
    a, b, y = train.a, train.b, train.labels
    if not pairs.directional:  # a paraphrase is one both ways: learn both orders
        a, b, y = a + b, b + a, np.concatenate([y, y])
    if len(y) == 0:
        raise ImpdistError(f"{pairs.path}: no training pairs are left after holding out "
                           f"{config.holdout:.0%}; give more pairs or a smaller holdout.")
    tokenizer = load_tokenizer(base_dir)
    with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's RNG
        torch.manual_seed(config.seed)
        model = _new_classifier(base_dir, pairs.label_names)
        _fit(model, tokenizer, a, b, y, config, quiet=quiet)
    model.eval().save_pretrained(out)
    tokenizer.save_pretrained(out)
    seconds = time.monotonic() - start
    positive = pairs.label_names[pairs.positive_label]
    meta = {"format": _FORMAT, "kind": config.labels, "base": base.name, "base_identity": base.identity,
            "positive_label": positive,
            "labels": list(pairs.label_names), "holdout": config.holdout,
            "data": {"path": str(pairs.path.resolve()), "name": pairs.name, "format": pairs.format,
                     "sha256": pairs.sha256, "pairs": len(pairs)},
            "train": {**asdict(config), "pairs": len(y), "seconds": round(seconds, 1)}}
    (out / JUDGE_META).write_text(json.dumps(meta, indent=2) + "\n")  # ClassifierJudge reads it
    judge = ClassifierJudge(str(out), config.labels, spec=f"{config.labels}:.")  # "." = this directory
    heldout = calibrate(judge, pairs, split="heldout", holdout=config.holdout)
    meta["heldout"] = heldout.as_dict()
    if config.labels == "paraphrase":  # the paraphrase filter's default: best F1 on held-out pairs
        meta["threshold"] = heldout.threshold
    (out / JUDGE_META).write_text(json.dumps(meta, indent=2) + "\n")


def _new_classifier(base_dir: Path, names: tuple[str, ...]):
    """The encoder with a fresh classification head whose id2label carries the real names."""
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # "newly initialized classifier weights" is the point here
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            base_dir, num_labels=len(names), id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)}, dtype=torch.float32)
    finally:
        logging.set_verbosity(verbosity)


def _fit(model, tokenizer, a: list[str], b: list[str], y: np.ndarray, config: JudgeTrainConfig, *,
         quiet: bool) -> None:
    """AdamW with linear warmup and decay over length-bucketed shuffled batches; the progress shows the loss."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    rng = np.random.default_rng(config.seed)
    encoded = tokenizer(a, b, truncation=True, max_length=config.max_length)["input_ids"]
    lengths = np.array([len(ids) for ids in encoded])
    per_epoch = -(-len(y) // config.batch_size)
    steps = max(1, round(config.epochs * per_epoch))
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]  # biases and LayerNorm
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    schedule = get_linear_schedule_with_warmup(optimizer, int(config.warmup * steps), steps)
    labels = torch.as_tensor(y, dtype=torch.long)
    bar = Progress(f"train {config.labels} judge", steps, unit="steps", quiet=quiet)
    model.train()
    step, avg = 0, None
    while step < steps:
        for idx in _bucketed_batches(lengths, config.batch_size, rng):
            if step == steps:
                break
            batch = tokenizer([a[i] for i in idx], [b[i] for i in idx], padding=True, truncation=True,
                              max_length=config.max_length, return_tensors="pt")
            loss = model(**batch, labels=labels[idx]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            avg = loss.item() if avg is None else 0.95 * avg + 0.05 * loss.item()
            bar.note = f"loss {avg:.3f}"
            bar.update(1)
    bar.close()


def _bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch: shuffle, sort by length within chunks of 50 batches (less padding), shuffle batches."""
    order = rng.permutation(len(lengths))
    chunk = 50 * batch_size
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _install(src: Path, out: Path) -> None:
    """Copy the cached judge to out, replacing an older judge there but nothing else."""
    if out.exists() and not (out / JUDGE_META).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise ImpdistError(f"{out} exists and is not a judge directory; choose a new or empty "
                           "directory, or remove it first.")
    out.parent.mkdir(parents=True, exist_ok=True)
    publish_dir(lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True), out, replace=True)
