"""`impdist train`: fine-tune a student on a distilled dataset, with the loss on the target only.

A run lives in its --out folder: `checkpoints/step-NNNNNN/` (weights, optimizer, scheduler, step,
elapsed time) every `save_every` steps, then the final model (Hugging Face format), its
`heldout.jsonl` and `student.json`, written last. Step s always trains on the same batch (the
order of epoch e is a permutation seeded by (seed, e)), so a run killed at any moment and
started again from its last checkpoint goes on exactly as if it had never stopped.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from impdist.decoding.runtime import set_torch_threads
from impdist.domains import (FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, PROBABILITY, SEED, STUDENT_MAX_LENGTH,
                             check_fields, setting)
from impdist.io.atomic import remove_dir, write_bytes_atomic
from impdist.models.embedded import DEFAULT_TEACHER
from impdist.models.names import hf_model_dir, load_tokenizer
from impdist.progress import Progress
from impdist.student.checkpoints import (CHECKPOINTS, STATE_FILE, WEIGHTS_FILE, check_same_run, checkpoints,
                                         clean_temps, save_checkpoint)
from impdist.student.codes import PromptFormat
from impdist.student.data import IGNORE, DataInfo, Example, collate, encode_pairs, read_pairs, split_heldout
from impdist.student.errors import StudentError
from impdist.student.meta import STUDENT_FILE, prompt_format, read_meta, write_meta

HELDOUT_FILE = "heldout.jsonl"
_CALIBRATE_AT = 4    # steps timed before a time budget fixes the length of the LR schedule
_LR_FLOOR = 0.1      # the schedule decays linearly to this fraction of lr
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that changes the trained weights; its JSON identifies a run (with the data)."""

    base: str = DEFAULT_TEACHER     # embedded name, local dir (a student too) or hub id
    epochs: float = setting(POSITIVE, 3.0)
    max_steps: int | None = setting(POSITIVE_INT, None, optional=True)  # overrides epochs
    batch_size: int = setting(POSITIVE_INT, 8)
    lr: float = setting(POSITIVE, 1e-4)
    warmup: float = setting(FRACTION, 0.05)            # fraction of the planned steps
    weight_decay: float = setting(NON_NEGATIVE, 0.0)
    max_length: int = setting(STUDENT_MAX_LENGTH, 160)  # tokens of prompt + target
    heldout: float = setting(FRACTION, 0.05)           # fraction of pairs (whole contexts) held out for eval loss
    max_heldout: int = setting(POSITIVE_INT, 128)
    code_dropout: float = setting(PROBABILITY, 0.3)    # each length / diversity code is left out with this probability
    exemplar_rate: float = setting(PROBABILITY, 0.25)  # pairs shown with their target's syntax sketch
    precision: str = "auto"         # "fp32", or "bf16" autocast (fp32 master weights); auto: bf16 where native
    freeze: float = setting(FRACTION, 0.0)  # fraction of the bottom blocks kept frozen (with the embeddings when > 0)
    seed: int = setting(SEED, 0)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.precision not in PRECISIONS:
            raise StudentError(f"bad training option: precision must be one of {', '.join(PRECISIONS)}, "
                               f"got {self.precision!r}")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """Where the student is, and how its training went."""

    out: Path
    status: str                     # "complete" (every planned step) or "budget" (time ran out)
    steps: int
    planned_steps: int
    train_loss: float | None
    eval_loss: float | None
    minutes: float
    resumed_from: int | None = None
    log: list[dict] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        resumed = f", resumed from step {self.resumed_from}" if self.resumed_from else ""
        ev = "n/a" if self.eval_loss is None else f"{self.eval_loss:.4f}"
        tr = "n/a" if self.train_loss is None else f"{self.train_loss:.4f}"
        return (f"student in {self.out}: {self.steps}/{self.planned_steps} steps ({self.status}{resumed}), "
                f"{self.minutes:.1f} min; train loss {tr}, held-out loss {ev}")


# --- the model ---------------------------------------------------------------------------------

def load_trainable(base: str, *, trust_remote_code: bool = False):
    """(model in fp32 train mode, tokenizer, decoder_only, prompt format) for a base model; a
    student as base keeps its own prompt format."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    import torch

    path = hf_model_dir(base, role="any")
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    decoder_only = not getattr(config, "is_encoder_decoder", False)
    auto = AutoModelForCausalLM if decoder_only else AutoModelForSeq2SeqLM
    try:
        model = auto.from_pretrained(path, dtype=torch.float32, trust_remote_code=trust_remote_code)
    except ValueError as e:
        raise StudentError(f"{base}: cannot be trained as a student ({str(e).splitlines()[0][:200]}); use a "
                           "causal LM or an encoder-decoder (T5-style) model") from None
    fmt = PromptFormat()
    if (Path(path) / STUDENT_FILE).exists():
        fmt = prompt_format(read_meta(path))
    return model.train(), load_tokenizer(path, trust_remote_code=trust_remote_code), decoder_only, fmt


def resolve_precision(precision: str, torch) -> str:
    """"auto" is bf16 where the CPU multiplies bf16 natively (AVX512-BF16/AMX): about 1.5x faster
    steps on SmolLM2 here; elsewhere emulated bf16 would be slower than fp32."""
    if precision != "auto":
        return precision
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


def freeze_bottom(model, fraction: float) -> int:
    """Freeze the input embeddings and the bottom `fraction` of every stack of blocks (the decoder
    of a causal LM; encoder and decoder of a T5). Fewer gradients: a 2-core step of SmolLM2 with
    half its blocks frozen takes 0.65x the time. Returns the number of frozen blocks."""
    import torch

    if fraction <= 0:
        return 0
    model.get_input_embeddings().requires_grad_(False)  # tied to the LM head in SmolLM2: both stay
    frozen = 0
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 1:
            k = int(len(module) * fraction)
            for block in module[:k]:
                block.requires_grad_(False)
            frozen += k
    return frozen


def _batch_loss(model, batch: dict, decoder_only: bool, torch, precision: str):
    """(mean loss over target tokens, number of target tokens) of one collated batch."""
    tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
    labels = tensors["labels"][:, 1:] if decoder_only else tensors["labels"]  # causal LMs shift by one
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = model(**tensors).loss
    return loss.float(), int((labels != IGNORE).sum())


# --- the loop -------------------------------------------------------------------------------------

class _Schedule:
    """Linear warmup, then linear decay to _LR_FLOOR at step `length`, the floor after it. The
    length is read at every step, so a time budget can fit it to the steps it allows."""

    def __init__(self, length: int, warmup: float) -> None:
        self.length, self.warmup = length, warmup

    def __call__(self, step: int) -> float:
        warm = max(1, round(self.warmup * self.length))
        if step < warm:
            return (step + 1) / warm
        frac = min(1.0, (step - warm) / max(1, self.length - warm))
        return 1.0 - (1.0 - _LR_FLOOR) * frac


def _batch_order(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of the examples of batch `step`: epoch e visits a permutation seeded by (seed, e)."""
    per_epoch = math.ceil(n / batch_size)
    epoch, index = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[index * batch_size : (index + 1) * batch_size]


def _evaluate(model, examples: list[Example], pad_id: int, decoder_only: bool, batch_size: int, torch,
              precision: str) -> float | None:
    """Mean loss per target token over the held-out examples."""
    if not examples:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = collate(examples[i : i + batch_size], pad_id, decoder_only=decoder_only)
            loss, n = _batch_loss(model, batch, decoder_only, torch, precision)
            total, count = total + float(loss) * n, count + n
    model.train()
    return total / max(count, 1)


def _identity(config: TrainConfig, info: DataInfo) -> dict:
    return {"config": config.to_json(), "data": info.fingerprint}


@dataclass
class _Run:
    """A run ready for its next step: model and optimizer (restored from the last checkpoint when
    resuming), the encoded data, the planned steps, and `state`, the part a checkpoint saves."""

    out: Path
    config: TrainConfig
    identity: dict
    info: DataInfo
    model: Any
    tokenizer: Any
    decoder_only: bool
    fmt: PromptFormat
    precision: str
    frozen_blocks: int
    examples: list[Example]
    held: list[dict]
    held_examples: list[Example]
    pad_id: int
    planned: int
    trainable: list
    optimizer: Any
    scheduler: Any
    schedule: _Schedule
    state: dict
    resumed_from: int | None


def steps_for(pairs: int, config: TrainConfig, min_steps: int = 1) -> int:
    """Steps for `config.epochs` passes over `pairs` kept pairs, and at least `min_steps` (a few
    dozen pairs still need that many updates to move the student; the README's curve)."""
    return max(min_steps, math.ceil(config.epochs * pairs / config.batch_size))


def train(
    data: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    config: TrainConfig | None = None,
    *,
    max_minutes: float | None = None,
    save_every: int = 50,
    eval_every: int | None = None,
    threads: int | None = None,
    quiet: bool = False,
    trust_remote_code: bool = False,
) -> TrainResult:
    """Fine-tune `config.base` on the pairs in `data` (one dataset or several, see read_pairs)
    into `out`, resuming a run found there.

    max_minutes caps the training time of the run, summed over resumes (a re-run with the same
    budget that already used it returns at once); the LR schedule is fitted to the steps the
    budget allows. The result is a Hugging Face model directory plus student.json.
    """
    config = config or TrainConfig()
    if save_every < 1:
        raise StudentError(f"save_every must be >= 1 step, got {save_every}")
    if max_minutes is not None and max_minutes <= 0:
        raise StudentError(f"max_minutes must be > 0, got {max_minutes}")
    out = Path(out)
    pairs, info = read_pairs(data)
    identity = _identity(config, info)
    done = _finished(out, identity, max_minutes)
    if done is not None:
        return done
    run = _plan(out, config, pairs, info, identity, threads=threads, trust_remote_code=trust_remote_code)
    status = _loop(run, max_minutes=max_minutes, save_every=save_every, eval_every=eval_every or save_every,
                   quiet=quiet)
    return _write_student(run, status, max_minutes)


def _plan(out: Path, config: TrainConfig, pairs: list[dict], info: DataInfo, identity: dict, *,
          threads: int | None, trust_remote_code: bool) -> _Run:
    """Plan the run in `out`, or resume it: pick up its last checkpoint (refusing one of another
    config or data), load and freeze the model, split and encode the data, decide the number of
    steps, and restore weights, optimizer and LR schedule from the checkpoint when there is one."""
    import torch  # the training stack loads only when a run trains

    out.mkdir(parents=True, exist_ok=True)
    clean_temps(out)
    found = checkpoints(out)
    state = json.loads((found[-1] / STATE_FILE).read_bytes()) if found else None
    if state is not None:
        check_same_run(out, identity, "checkpoint", state["identity"])

    set_torch_threads(threads)
    model, tokenizer, decoder_only, fmt = load_trainable(config.base, trust_remote_code=trust_remote_code)
    precision = resolve_precision(config.precision, torch)
    frozen_blocks = freeze_bottom(model, config.freeze)
    train_pairs, held = split_heldout(pairs, config.heldout, config.max_heldout, config.seed)
    encode = dict(decoder_only=decoder_only, max_length=config.max_length, code_dropout=config.code_dropout,
                  exemplar_rate=config.exemplar_rate, seed=config.seed)
    examples = encode_pairs(train_pairs, tokenizer, fmt, **encode)
    held_examples = encode_pairs(held, tokenizer, fmt, **encode)
    per_epoch = math.ceil(len(examples) / config.batch_size)
    planned = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    schedule = _Schedule(planned, config.warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    if state is None:
        state = {"identity": identity, "step": 0, "schedule": planned, "calibrated": False, "elapsed": 0.0,
                 "log": [], "loss_sum": 0.0, "loss_steps": 0}
        resumed_from = None
    else:
        saved = torch.load(found[-1] / WEIGHTS_FILE, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        resumed_from = state["step"]
    schedule.length = state["schedule"]
    return _Run(out=out, config=config, identity=identity, info=info, model=model, tokenizer=tokenizer,
                decoder_only=decoder_only, fmt=fmt, precision=precision, frozen_blocks=frozen_blocks,
                examples=examples, held=held, held_examples=held_examples, pad_id=int(tokenizer.pad_token_id),
                planned=planned, trainable=trainable, optimizer=optimizer, scheduler=scheduler, schedule=schedule,
                state=state, resumed_from=resumed_from)


def _loop(run: _Run, *, max_minutes: float | None, save_every: int, eval_every: int, quiet: bool) -> str:
    """Train from the step run.state holds to the planned one, or until the time budget would run
    out ("budget"; else "complete"): log and evaluate every eval_every steps, checkpoint every
    save_every, fit the LR schedule to the budget once; a budget stop is checkpointed too."""
    import torch  # the training stack loads only when a run trains

    config, state, model, optimizer, scheduler = run.config, run.state, run.model, run.optimizer, run.scheduler
    budget = None if max_minutes is None else 60.0 * max_minutes

    def evaluate() -> float | None:
        return _evaluate(model, run.held_examples, run.pad_id, run.decoder_only, 2 * config.batch_size, torch,
                         run.precision)

    bar = Progress("train", run.planned, unit="steps", initial=state["step"], quiet=quiet)
    started, first_step = time.monotonic(), state["step"]
    base_elapsed = state["elapsed"]
    ema = None
    status = "complete"
    while state["step"] < run.planned:
        now = time.monotonic() - started
        steps_here = state["step"] - first_step
        per_step = now / steps_here if steps_here else 0.0
        if budget is not None and base_elapsed + now + per_step > budget:
            status = "budget"
            break
        step = state["step"]
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout masks depend on the step only
        order = _batch_order(len(run.examples), config.batch_size, config.seed, step)
        batch = collate([run.examples[i] for i in order], run.pad_id, decoder_only=run.decoder_only)
        loss, _ = _batch_loss(model, batch, run.decoder_only, torch, run.precision)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        value = loss.item()
        ema = value if ema is None else 0.9 * ema + 0.1 * value
        state["step"] = step + 1
        state["loss_sum"] += value
        state["loss_steps"] += 1
        if (budget is not None and not state["calibrated"] and state["step"] - first_step == _CALIBRATE_AT):
            # Fit the LR schedule to the steps the budget allows, once, from the steps timed so far
            # (a run resumed with a larger budget goes on at the LR floor).
            per_step = (time.monotonic() - started) / _CALIBRATE_AT
            affordable = state["step"] + int((budget - base_elapsed - (time.monotonic() - started)) / per_step)
            state["schedule"] = run.schedule.length = max(state["step"], min(run.planned, affordable))
            state["calibrated"] = True
        if state["step"] % eval_every == 0 or state["step"] == run.planned:
            entry = {"step": state["step"], "train_loss": state["loss_sum"] / state["loss_steps"],
                     "lr": scheduler.get_last_lr()[0]}
            entry["eval_loss"] = evaluate()
            state["log"].append(entry)
            state["loss_sum"], state["loss_steps"] = 0.0, 0
        postfix = f"loss {ema:.3f}"
        if state["log"] and state["log"][-1]["eval_loss"] is not None:
            postfix += f", eval {state['log'][-1]['eval_loss']:.3f}"
        bar.note = postfix
        bar.update(1)
        if state["step"] % save_every == 0 and state["step"] < run.planned:
            state["elapsed"] = base_elapsed + time.monotonic() - started
            save_checkpoint(run.out, state, model, optimizer, scheduler, torch)
    bar.close()
    if not state["log"] or state["log"][-1]["step"] != state["step"]:  # stopped by the budget between evals
        train_loss = state["loss_sum"] / state["loss_steps"] if state["loss_steps"] else None
        state["log"].append({"step": state["step"], "train_loss": train_loss, "lr": scheduler.get_last_lr()[0],
                             "eval_loss": evaluate()})
        state["loss_sum"], state["loss_steps"] = 0.0, 0
    state["elapsed"] = base_elapsed + time.monotonic() - started
    if status == "budget":  # kept, so a re-run with a larger budget goes on from here
        save_checkpoint(run.out, state, model, optimizer, scheduler, torch)
    return status


def _write_student(run: _Run, status: str, max_minutes: float | None) -> TrainResult:
    """Write the trained student into run.out (model, tokenizer, held-out pairs, then student.json
    last) and drop the checkpoints of a complete run."""
    out, state, config = run.out, run.state, run.config
    (out / STUDENT_FILE).unlink(missing_ok=True)
    run.model.eval().save_pretrained(out)
    run.tokenizer.save_pretrained(out)
    _write_heldout(out / HELDOUT_FILE, run.held)
    result = TrainResult(out, status, state["step"], run.planned, _last(state["log"], "train_loss"),
                         _last(state["log"], "eval_loss"), state["elapsed"] / 60, run.resumed_from, state["log"])
    write_meta(out, {
        "kind": "decoder-only" if run.decoder_only else "encoder-decoder",
        "format": run.fmt.to_json(),
        "base": config.base,
        "data": run.info.to_json(),
        "training": {"identity": run.identity, "config": config.to_json(), "status": status, "steps": state["step"],
                     "planned_steps": run.planned, "lr_schedule_steps": state["schedule"],
                     "precision": run.precision, "frozen_blocks": run.frozen_blocks,
                     "train_examples": len(run.examples),
                     "heldout_examples": len(run.held_examples), "minutes": round(state["elapsed"] / 60, 3),
                     "max_minutes": max_minutes, "log": state["log"]},
        "evaluation": {"train_loss": result.train_loss, "heldout_loss": result.eval_loss},
    })
    if status == "complete":
        remove_dir(out / CHECKPOINTS)
    return result


def _last(log: list[dict], key: str) -> float | None:
    return next((e[key] for e in reversed(log) if e.get(key) is not None), None)


def _write_heldout(path: Path, pairs: list[dict]) -> None:
    lines = [json.dumps({k: p[k] for k in ("id", "src", "tgt", "task")}, ensure_ascii=False) for p in pairs]
    write_bytes_atomic(path, ("\n".join(lines) + ("\n" if lines else "")).encode())


def _finished(out: Path, identity: dict, max_minutes: float | None) -> TrainResult | None:
    """The result of a run already finished in `out` for this identity (None: train on)."""
    if not (out / STUDENT_FILE).exists():
        return None
    meta = read_meta(out)
    training = meta.get("training", {})
    check_same_run(out, identity, STUDENT_FILE, training.get("identity", {}))
    budget_used = max_minutes is not None and training["minutes"] * 60 >= 60 * max_minutes - 1
    if training["status"] == "complete":
        remove_dir(out / CHECKPOINTS)  # a run killed right after finishing
    if training["status"] == "complete" or (budget_used and training["status"] == "budget"):
        log = training.get("log", [])
        return TrainResult(out, training["status"], training["steps"], training["planned_steps"],
                           _last(log, "train_loss"), _last(log, "eval_loss"), training["minutes"], None, log)
    return None
