"""`impdist distill`: self-distillation rounds.

Round k: the round k-1 student samples candidates for the dataset's sources (paper: 10
samples, top-p 0.9, temperature 0.7); the filter chain re-judges them with pairing="source", so
its entailment-graph step keeps, per source, one passing candidate (paraphrase: the lowest
ROUGE-L; summary: the most informative, impdist.filters.informativeness); the pairs kept
join the dataset with round = k, and the student is trained again on the grown dataset,
starting from its round k-1 weights. Every step is a resumable stage under OUT:

    round-0/student/                      the first student (unless one is given)
    round-k/<task>/candidates-<id>/       the student's samples, one row per source
    round-k/<task>/scored-<id>/, dataset-<id>/   the filter's stages over them
    round-k/data/dataset-<id>/            the grown dataset (previous pairs + round k's)
    round-k/student/                      the round-k student
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from impdist.filters import card as dataset_card
from impdist.filters.chain import FilterConfig
from impdist.filters.pipeline import filter_dataset, read_dataset
from impdist.io import StageDir, fingerprint, open_stage
from impdist.student.data import read_pairs
from impdist.student.errors import StudentError
from impdist.student.meta import read_meta
from impdist.student.rewrites import Sampling, sample_rewrites
from impdist.student.train import TrainConfig, TrainResult, train


@dataclass
class RoundResult:
    """One round: how many sources were sampled, how many pairs the filter added, the new student."""

    round: int
    sources: int
    candidates: int
    added: int
    pairs: int
    dataset: Path
    student: TrainResult


@dataclass
class DistillResult:
    """Every round's result; the last student is the one to export."""

    out: Path
    first: TrainResult | None
    rounds: list[RoundResult] = field(default_factory=list)

    @property
    def student(self) -> Path:
        return self.rounds[-1].student.out if self.rounds else self.first.out

    def __str__(self) -> str:
        lines = [f"self-distillation under {self.out}"]
        if self.first is not None:
            lines.append(f"round 0: {self.first}")
        for r in self.rounds:
            lines.append(f"round {r.round}: {r.sources} sources -> {r.candidates} candidates -> {r.added} pairs added, "
                         f"dataset {r.pairs} pairs ({r.dataset})\n  {r.student}")
        lines.append(f"final student: {self.student}")
        return "\n".join(lines)


def _sources(pairs: list[dict], task: str, round_: int) -> list[dict]:
    """The distinct sources of a task's pairs, each with a context id unique to this round."""
    seen: dict[str, dict] = {}
    for p in pairs:
        if p["task"] == task and p["src"] not in seen:
            seen[p["src"]] = {"src": p["src"], "context_id": f"{p['context_id']}/r{round_}s{len(seen)}"}
    return list(seen.values())


def _filter_settings(card: dict, task: str, judge: str | None):
    """The judge and thresholds the dataset's pairs of this task were filtered with (from their
    card), for re-judging."""
    cfg = FilterConfig(task=task)
    if card.get("task") == task and isinstance(card.get("filters"), dict):
        cfg = FilterConfig(**{**card["filters"], "task": task})
        threshold = card.get("judge_threshold")
        if cfg.judge_threshold is None and judge is None and threshold is not None and math.isfinite(threshold):
            cfg = replace(cfg, judge_threshold=float(threshold))
    return judge or card.get("judge") or "embedding", cfg


def _sample_and_filter(folder: Path, student: Path, pairs: list[dict], card: dict, task: str, round_: int,
                       sampling: Sampling, judge: str | None, data_fp: str, filter_options: dict, quiet: bool):
    """(candidates stage, filter result) of one task in one round."""
    sources = _sources(pairs, task, round_)
    stage = sample_rewrites(folder, str(student), sources, task, sampling, inputs={"dataset": data_fp},
                            round_=round_, quiet=quiet)
    judge_spec, cfg = _filter_settings(card, task, judge)
    options = {"seed": sampling.seed, "device": sampling.device, "threads": sampling.threads, **filter_options}
    result = filter_dataset(stage.path, folder, task=task, judge=judge_spec, config=cfg, cap=None, pairing="source",
                            quiet=quiet, **options)
    return stage, result


def _grow(folder: Path, round_: int, previous: list[dict], prev_fp: str, added: dict[str, StageDir],
          cards: dict[str, dict]) -> StageDir:
    """The round's dataset stage: the previous pairs, then the new pairs the filter kept this round."""
    inputs = {"previous": prev_fp, **{f"added-{task}": fingerprint(stage) for task, stage in added.items()}}
    stage = open_stage(folder, "dataset", {"stage": "dataset", "round": round_, "merge": "previous + added"}, inputs)
    if not stage.is_complete:
        have = {(r["src"], r["tgt"]) for r in previous}
        new = []
        for r in (r for s in added.values() for r in read_dataset(s.path)):
            if (r["src"], r["tgt"]) not in have:  # a pair an earlier round already holds adds nothing
                have.add((r["src"], r["tgt"]))
                new.append({**r, "round": round_})
        rows = previous + new
        stage.write_shard("kept-00000", rows)
        meta = {"cards": cards, "self_distillation_round": round_, "task": "+".join(sorted(added))}
        dataset_card.write_card(stage.path, kept=rows, rejected=[],
                                funnel=[(f"round {round_ - 1} dataset", len(previous)), (f"+ round {round_}", len(rows))],
                                meta=meta)
        stage.complete()
    return stage


def distill(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    rounds: int = 1,
    student: str | os.PathLike | None = None,
    train_config: TrainConfig | None = None,
    sampling: Sampling | None = None,
    judge: str | None = None,
    filter_options: dict | None = None,
    max_minutes: float | None = None,
    save_every: int = 50,
    quiet: bool = False,
) -> DistillResult:
    """Run `rounds` self-distillation rounds on the dataset `data` under `out` (resumable).

    student: a trained student to start from (default: train one on `data` as round 0).
    judge: the filter's judge (default: the one named in the dataset card, else 'embedding').
    filter_options: more arguments of impdist.filters.pipeline.filter_dataset (e.g. judge_all, workers).
    max_minutes: the training budget of each round's student.
    """
    if rounds < 1:
        raise StudentError(f"--rounds must be >= 1, got {rounds}")
    out = Path(out)
    sampling = sampling or Sampling()
    train_config = train_config or TrainConfig()
    first = None
    if student is None:
        first = train(data, out / "round-0" / "student", train_config, max_minutes=max_minutes,
                      save_every=save_every, threads=sampling.threads, quiet=quiet)
        current = first.out
    else:
        current = Path(student)
        read_meta(current)  # fail now, not after sampling, if it is no student
    result = DistillResult(out, first)
    dataset: str | os.PathLike = data
    for k in range(1, rounds + 1):
        pairs, info = read_pairs(dataset)
        cards = info.cards  # the grown datasets carry the original cards' judges and thresholds on
        folder = out / f"round-{k}"
        added, n_sources, n_cands = {}, 0, 0
        for task in sorted({p["task"] for p in pairs}):
            cand_stage, filtered = _sample_and_filter(folder / task, current, pairs, cards.get(task, {}), task, k,
                                                      sampling, judge, info.fingerprint, filter_options or {}, quiet)
            added[task] = StageDir(filtered.dataset_dir)
            rows = list(cand_stage.iter_rows())
            n_sources += len(rows)
            n_cands += sum(len(r["candidates"]) for r in rows)
        grown = _grow(folder / "data", k, pairs, info.fingerprint, added, cards)
        n_added = sum(1 for r in grown.iter_rows() if r.get("round") == k)
        trained = train(grown.path, folder / "student", replace(train_config, base=str(current)),
                        max_minutes=max_minutes, save_every=save_every, threads=sampling.threads, quiet=quiet)
        result.rounds.append(RoundResult(k, n_sources, n_cands, n_added, n_added + len(pairs), grown.path, trained))
        current, dataset = trained.out, grown.path
    return result
