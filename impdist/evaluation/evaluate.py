"""`impdist evaluate`: a student and the baselines on one evaluation set, scored alike.

Systems: the student (or every round's student of an `impdist distill` folder), copy-the-input,
for summaries truncation to the first k words (k = the student's mean output length), and the
teacher prompted zero-shot, given the student's own decoding: a student decoded extractively
meets the teacher decoded extractively too, and a best-of-N student the teacher choosing the same
way from as many samples, so a gap is what distillation added. Every resampled metric gets a 95%
bootstrap interval, and each student a paired bootstrap test against each baseline
(impdist.evaluation.significance). With `cache`, each system's outputs and item statistics are
kept in a JSON file named by everything that decides them, so a re-run (make run) scores nothing
twice.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from impdist.io.cache import cache_key, dir_identity
from impdist.decoding.runtime import BATCH_BACKEND
from impdist.errors import ImpdistError
from impdist.evaluation import baselines as base
from impdist.evaluation.data import EvalSet, load_eval_set
from impdist.evaluation.significance import DRAWS, SEED, Bootstrap, Comparison, Interval
from impdist.filters.informativeness import most_informative
from impdist.generate.prompted import INSTRUCTIONS, PromptedTeacher
from impdist.judges import embed
from impdist.metrics import item_stats, metrics_of, signatures
from impdist.student.codes import EvalControls
from impdist.student.meta import STUDENT_FILE, read_meta
from impdist.student.serve import BEST_OF_SAMPLING, Paraphraser
from impdist.io.atomic import remove_stale_temps, write_bytes_atomic
from impdist.models.embedded import DEFAULT_EMBEDDER, DEFAULT_TEACHER

BASELINES = ("copy", "truncate", "teacher")
ITEMS_FORMAT = 1  # of the item statistics in an evaluation cache entry; bump when item_stats changes
# The paper's numbers (Jung et al. 2023, MRPC test and Gigaword), shown beside ours in reports.
PAPER = {
    "paraphrase": [("paper: T5-large student (770M)", {"ibleu": 7.3, "bert_ibleu": 67.1}),
                   ("paper: copy-the-input", {"ibleu": 1.1, "bert_ibleu": 0.0}),
                   ("paper: ChatGPT", {"ibleu": 5.9, "bert_ibleu": 67.7})],
    "summary": [("paper: T5-large student (Gigaword)", {"rougeL": 30.3})],
}


@dataclass
class SystemResult:
    """One system's outputs on the set and their metrics."""

    system: str
    metrics: dict[str, float]
    outputs: list[str] = field(repr=False)
    seconds: float = 0.0
    items: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # metrics.item_stats


@dataclass
class Evaluation:
    """Every system on one set."""

    set: str
    task: str
    n: int
    systems: list[SystemResult]
    embedder: str = DEFAULT_EMBEDDER
    draws: int = DRAWS
    seed: int = SEED

    @cached_property
    def _bootstrap(self) -> Bootstrap:
        boot = Bootstrap(self.n, self.draws, self.seed)
        for s in self.systems:
            if s.items:  # a result built without item statistics has no interval
                boot.add(s.system, s.items)
        return boot

    def intervals(self, system: str) -> dict[str, Interval]:
        """The system's resampled metrics (metrics.RESAMPLED) with their 95% intervals."""
        return self._bootstrap.intervals(system) if system in self._bootstrap else {}

    def comparisons(self) -> list[Comparison]:
        """Each student against each baseline, paired, on the set's deciding metrics (DECIDING)."""
        scored = [s.system for s in self.systems if s.system in self._bootstrap]
        students = [s for s in scored if s.startswith("student")]
        others = [s for s in scored if not s.startswith("student")]
        return [self._bootstrap.compare(a, b, m) for a in students for b in others for m in DECIDING[self.task]
                if m in self._bootstrap.intervals(a)]

    def signatures(self) -> dict[str, str]:
        """What decides each reported number (sacrebleu-style), per metric key."""
        return signatures(self.task, self.embedder)

    def to_json(self) -> dict:
        return {"set": self.set, "task": self.task, "n": self.n,
                "systems": {s.system: {k: round(v, 2) for k, v in s.metrics.items()} for s in self.systems},
                "intervals": {s.system: {k: iv.to_json() for k, iv in self.intervals(s.system).items()}
                              for s in self.systems},
                "comparisons": [c.to_json() for c in self.comparisons()],
                "bootstrap": {"draws": self.draws, "seed": self.seed, "ci": 0.95, "test": "paired bootstrap"},
                "signatures": self.signatures()}

    def table(self) -> tuple[list[str], list[list[str]]]:
        """(header, rows) of the main metrics, our systems then the paper's for scale; a resampled
        metric shows its 95% interval."""
        keys = MAIN[self.task]
        rows = []
        for s in self.systems:
            iv = self.intervals(s.system)
            rows.append([s.system] + [_fmt(s.metrics.get(k)) + (f" [{_fmt(iv[k].low)}, {_fmt(iv[k].high)}]"
                                                              if k in iv and k in DECIDING[self.task] else "")
                                      for k in keys])
        rows += [[name] + [_fmt(m.get(k)) for k in keys] for name, m in PAPER[self.task]]
        return ["system"] + [LABELS[k] for k in keys], rows

    def comparison_table(self) -> tuple[list[str], list[list[str]]]:
        """(header, rows): each student minus each baseline, the 95% interval of the difference, p."""
        rows = [[c.system, c.baseline, LABELS[c.metric], f"{c.diff.value:+.2f}",
                 f"[{c.diff.low:+.2f}, {c.diff.high:+.2f}]", f"{c.p:.3f}"] for c in self.comparisons()]
        return ["system", "baseline", "metric", "difference", "95% interval", "p"], rows

    def __str__(self) -> str:
        lines = [f"{self.set} ({self.task}, {self.n} items; [95% bootstrap interval], {self.draws} draws)"]
        for header, rows in (self.table(), self.comparison_table()):
            if rows:
                widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
                lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                          for r in [header] + rows]
        return "\n".join(lines)


MAIN = {"paraphrase": ["ibleu", "bert_ibleu", "bleu", "self_bleu", "similarity", "distinct_2", "copies"],
        "summary": ["rougeL", "rouge1", "rouge2", "compression", "words", "copies"]}
# The metrics a student is tested on against each baseline, per task.
DECIDING = {"paraphrase": ("ibleu", "bert_ibleu"), "summary": ("rougeL",)}


LABELS = {"ibleu": "iBLEU", "bert_ibleu": "BERT-iBLEU", "bleu": "BLEU", "self_bleu": "self-BLEU",
          "similarity": "sim. to src", "distinct_2": "distinct-2", "copies": "copies %", "rougeL": "ROUGE-L",
          "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "compression": "compression", "words": "words"}


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def students_in(model: str | os.PathLike) -> list[tuple[str, Path]]:
    """(name, folder) of the student in `model`, or of every round's student of a distill folder."""
    path = Path(model)
    if (path / STUDENT_FILE).exists():
        return [("student", path)]
    rounds = sorted((int(p.parent.name.split("-")[1]), p) for p in path.glob("round-*/student")
                    if (p / STUDENT_FILE).exists() and p.parent.name.split("-")[1].isdigit())
    if rounds:
        return [(f"student round {k}", p) for k, p in rounds]
    read_meta(path)  # raises the error that says what a student folder is
    raise AssertionError("unreachable")


def evaluate(
    model: str | os.PathLike | None,
    data: str | os.PathLike | EvalSet,
    *,
    task: str | None = None,
    limit: int | None = None,
    baselines: Sequence[str] = BASELINES,
    teacher: str = DEFAULT_TEACHER,
    backend: str | None = None,
    embedder: str = DEFAULT_EMBEDDER,
    controls: EvalControls | Mapping | None = None,
    batch_size: int = 32,
    threads: int | None = None,
    cache: str | os.PathLike | None = None,
    quiet: bool = True,
) -> Evaluation:
    """Score the student(s) in `model` and the baselines on `data` (a named set or a file).
    `controls`: how the student decodes (a dict of the same keys is taken too); `embedder` also
    compares a best_of student's samples."""
    if not isinstance(controls, EvalControls):
        controls = EvalControls.from_mapping(controls or {})
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ImpdistError(f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    evalset = data if isinstance(data, EvalSet) else load_eval_set(data, task=task, limit=limit)
    students = students_in(model) if model is not None else []
    if not students and not baselines:
        raise ImpdistError("nothing to evaluate: give --model or at least one baseline")
    def score(outputs: list[str]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        emb = _embedder(embedder, threads) if evalset.task == "paraphrase" else None
        items = item_stats(evalset.task, outputs, evalset.refs, evalset.srcs, embedder=emb)
        return metrics_of(items, outputs, evalset.srcs), items

    setkey = {"set": evalset.name, "task": evalset.task, "srcs": cache_key("\n".join(evalset.srcs)),
              "refs": cache_key(json.dumps(evalset.refs)), "embedder": embedder}

    if cache is not None and Path(cache).is_dir():
        remove_stale_temps(Path(cache))  # the entry a killed run was writing

    def run(system: str, identity: dict, produce: Callable[[], list[str]]) -> SystemResult:
        path = saved = None
        if cache is not None:
            slug = re.sub(r"[^\w.-]+", "_", system).strip("_")
            path = Path(cache) / f"{evalset.name}-{slug}-{cache_key('eval', **setkey, **identity)}.json"
            saved = _cached(path, identity)
            if saved is not None and saved.get("items_format") == ITEMS_FORMAT:
                items = {k: np.asarray(v, dtype=np.int64 if k in ("bleu", "self_bleu") else np.float64)
                         for k, v in saved["items"].items()}
                return SystemResult(system, saved["metrics"], saved["outputs"], saved["seconds"], items)
        if saved is not None:  # outputs from an older impdist: score them again, decode nothing
            outputs, seconds = saved["outputs"], saved["seconds"]
        else:
            if not quiet:
                logging.getLogger(__name__).info("evaluate: %s on %s (%d items) ...", system, evalset.name, len(evalset))
            start = time.perf_counter()
            outputs = produce()
            seconds = time.perf_counter() - start
        metrics, items = score(outputs)
        result = SystemResult(system, metrics, outputs, seconds, items)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, json.dumps({"system": system, "identity": identity, "metrics": result.metrics,
                                                 "seconds": seconds, "outputs": outputs,
                                                 "items_format": ITEMS_FORMAT,
                                                 "items": {k: v.tolist() for k, v in items.items()}}).encode())
        return result

    results = []
    # A best-of-N student is also scored with one greedy answer under the same controls, so each of
    # its two decodings meets the teacher decoded the same way; the asked-for decoding comes last.
    decodings = [replace(controls, best_of=1), controls] if controls.best_of > 1 else [controls]
    for student, folder in students:
        for c in decodings:
            name = student + ", extractive" * c.extractive + f", best of {c.best_of}" * (c.best_of > 1)
            ident = {"student": dir_identity(folder), "backend": backend, "controls": c.as_controls()}
            results.append(run(name, ident, lambda folder=folder, c=c: _student_outputs(folder, evalset, backend, c,
                                                                                     embedder, batch_size, threads)))
    if "copy" in baselines:
        results.append(run("copy-the-input", {}, lambda: base.copy_input(evalset.srcs)))
    if "truncate" in baselines and evalset.task == "summary":
        words = round(results[len(students) * len(decodings) - 1].metrics["words"]) if students else 10
        results.append(run(f"first {words} words", {"words": words},
                           lambda: base.truncate(evalset.srcs, max(1, words))))
    if "teacher" in baselines:
        # The teacher given each of the student's decodings: greedy, then the best-of-N choice,
        # each under the deletion-only constraint where the student's is (what distillation adds
        # is the gap to the teacher decoded and chosen the same way; an unconstrained teacher
        # beside an extractive student would only add decoding time).
        for v in (EvalControls(extractive=c.extractive, best_of=c.best_of) for c in decodings):
            ident = {"teacher": teacher, "backend": BATCH_BACKEND, "instruction": INSTRUCTIONS[evalset.task],
                     **v.as_controls()}
            name = "teacher, prompted" + ", extractive" * v.extractive + f", best of {v.best_of}" * (v.best_of > 1)
            results.append(run(name, ident, lambda v=v: _teacher_outputs(teacher, evalset, v, embedder, batch_size,
                                                                         threads)))
    return Evaluation(evalset.name, evalset.task, len(evalset), results, embedder=embedder)


def _cached(path: Path, identity: dict) -> dict | None:
    """The evaluation cache's entry at `path` if it is there, whole and for `identity`; else None
    (the system is scored again and the entry replaced, atomically, as every entry is written)."""
    try:
        saved = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:  # edited or damaged: a cache entry is derived data, so redo it
        return None
    if not isinstance(saved, dict) or saved.get("identity") != json.loads(json.dumps(identity)) or \
            not {"metrics", "outputs", "seconds"} <= saved.keys():
        return None
    return saved


def _teacher_outputs(model: str, evalset: EvalSet, controls: EvalControls, embedder: str, batch_size: int,
                     threads: int | None) -> list[str]:
    """The prompted teacher under `controls`: greedy, or the most informative of best_of samples
    drawn as a best_of student draws them (BEST_OF_SAMPLING), compared by the same embedder."""
    teacher = _teacher(model, threads)
    if controls.best_of == 1:
        return teacher.rewrite(evalset.srcs, evalset.task, batch_size=batch_size, extractive=controls.extractive)
    temperature, top_p = BEST_OF_SAMPLING
    samples = teacher.generate(evalset.srcs, task=evalset.task, n=controls.best_of, sample=True,
                               temperature=temperature, top_p=top_p, batch_size=batch_size,
                               extractive=controls.extractive)
    return most_informative(_embedder(embedder, threads), evalset.srcs, samples)


@lru_cache(maxsize=1)
def _teacher(model: str, threads: int | None):
    """The prompted teacher, loaded once for all of its rows (its runtime is part of its rows' cache identity)."""
    return PromptedTeacher(model, backend=BATCH_BACKEND, threads=threads)


def _embedder(model: str, threads: int | None):
    """BERT-iBLEU's sentence embedder, loaded only when a system is scored (cached results need none)."""
    return embed.load_embedder(model, threads=threads)


def _student_outputs(folder: Path, evalset: EvalSet, backend: str | None, controls: EvalControls, embedder: str,
                     batch_size: int, threads: int | None) -> list[str]:
    student = Paraphraser.load(folder, backend=backend, threads=threads)
    return student.rewrite(evalset.srcs, evalset.task, controls, embedder=embedder, batch_size=batch_size)
