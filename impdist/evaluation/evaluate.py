"""`impdist evaluate`: a student and the baselines on one evaluation set, scored alike.

Systems: the student (or every round's student of an `impdist distill` folder), copy-the-input,
for summaries truncation to the first k words (k = the student's mean output length), and the
teacher prompted zero-shot (a student decoded extractively also meets the teacher decoded
extractively). With `cache`, each system's outputs and metrics are kept in a JSON
file named by everything that decides them, so a re-run (make run) scores nothing twice.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping, Sequence

from impdist.io.cache import cache_key, dir_identity
from impdist.errors import ImpdistError
from impdist.evaluation import baselines as base
from impdist.evaluation.data import EvalSet, load_eval_set
from impdist.generate.prompted import INSTRUCTIONS, PromptedTeacher
from impdist.judges import embed
from impdist.metrics import paraphrase_metrics, summary_metrics
from impdist.student.codes import EvalControls
from impdist.student.meta import STUDENT_FILE, read_meta
from impdist.student.serve import Paraphraser
from impdist.io.atomic import remove_stale_temps, write_bytes_atomic
from impdist.models.embedded import DEFAULT_EMBEDDER, DEFAULT_TEACHER

BASELINES = ("copy", "truncate", "teacher")
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


@dataclass
class Evaluation:
    """Every system on one set."""

    set: str
    task: str
    n: int
    systems: list[SystemResult]

    def to_json(self) -> dict:
        return {"set": self.set, "task": self.task, "n": self.n,
                "systems": {s.system: {k: round(v, 2) for k, v in s.metrics.items()} for s in self.systems}}

    def table(self) -> tuple[list[str], list[list[str]]]:
        """(header, rows) of the main metrics, our systems then the paper's for scale."""
        keys = MAIN[self.task]
        rows = [[s.system] + [_fmt(s.metrics.get(k)) for k in keys] for s in self.systems]
        rows += [[name] + [_fmt(m.get(k)) for k in keys] for name, m in PAPER[self.task]]
        return ["system"] + [LABELS[k] for k in keys], rows

    def __str__(self) -> str:
        header, rows = self.table()
        widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
        line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        return "\n".join([f"{self.set} ({self.task}, {self.n} items)", line(header)] + [line(r) for r in rows])


MAIN = {"paraphrase": ["ibleu", "bert_ibleu", "bleu", "self_bleu", "similarity", "distinct_2", "copies"],
        "summary": ["rougeL", "rouge1", "rouge2", "compression", "words", "copies"]}
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
    def score(outputs: list[str]) -> dict[str, float]:
        if evalset.task == "summary":
            return summary_metrics(outputs, evalset.refs, evalset.srcs)
        return paraphrase_metrics(outputs, evalset.refs, evalset.srcs, embedder=_embedder(embedder, threads))

    setkey = {"set": evalset.name, "task": evalset.task, "srcs": cache_key("\n".join(evalset.srcs)),
              "refs": cache_key(json.dumps(evalset.refs)), "embedder": embedder}

    if cache is not None and Path(cache).is_dir():
        remove_stale_temps(Path(cache))  # the entry a killed run was writing

    def run(system: str, identity: dict, produce: Callable[[], list[str]]) -> SystemResult:
        path = None
        if cache is not None:
            slug = re.sub(r"[^\w.-]+", "_", system).strip("_")
            path = Path(cache) / f"{evalset.name}-{slug}-{cache_key('eval', **setkey, **identity)}.json"
            saved = _cached(path, identity)
            if saved is not None:
                return SystemResult(system, saved["metrics"], saved["outputs"], saved["seconds"])
        if not quiet:
            print(f"evaluate: {system} on {evalset.name} ({len(evalset)} items) ...", flush=True)
        start = time.perf_counter()
        outputs = produce()
        seconds = time.perf_counter() - start
        result = SystemResult(system, score(outputs), outputs, seconds)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, json.dumps({"system": system, "identity": identity, "metrics": result.metrics,
                                                 "seconds": seconds, "outputs": outputs}, indent=1).encode())
        return result

    results = []
    for name, folder in students:
        name += ", extractive" * controls.extractive + f", best of {controls.best_of}" * (controls.best_of > 1)
        ident = {"student": dir_identity(folder), "backend": backend, "controls": controls.as_controls()}
        results.append(run(name, ident, lambda folder=folder: _student_outputs(folder, evalset, backend, controls,
                                                                               embedder, batch_size, threads)))
    if "copy" in baselines:
        results.append(run("copy-the-input", {}, lambda: base.copy_input(evalset.srcs)))
    if "truncate" in baselines and evalset.task == "summary":
        words = round(results[len(students) - 1].metrics["words"]) if students else 10
        results.append(run(f"first {words} words", {"words": words},
                           lambda: base.truncate(evalset.srcs, max(1, words))))
    if "teacher" in baselines:
        # A student decoded extractively meets the teacher decoded both ways: plainly, and under
        # the same deletion-only constraint (what the constraint alone is worth).
        for extractive in (False, True) if controls.extractive else (False,):
            ident = {"teacher": teacher, "instruction": INSTRUCTIONS[evalset.task]}
            if extractive:
                ident["extractive"] = True
            results.append(run("teacher, prompted" + ", extractive" * extractive, ident,
                               lambda extractive=extractive: _teacher(teacher, threads).rewrite(
                                   evalset.srcs, evalset.task, batch_size=batch_size, extractive=extractive)))
    return Evaluation(evalset.name, evalset.task, len(evalset), results)


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


@lru_cache(maxsize=1)
def _teacher(model: str, threads: int | None):
    """The prompted teacher, loaded once for all of its rows."""
    return PromptedTeacher(model, threads=threads)


def _embedder(model: str, threads: int | None):
    """BERT-iBLEU's sentence embedder, loaded only when a system is scored (cached results need none)."""
    return embed.load_embedder(model, threads=threads)


def _student_outputs(folder: Path, evalset: EvalSet, backend: str | None, controls: EvalControls, embedder: str,
                     batch_size: int, threads: int | None) -> list[str]:
    student = Paraphraser.load(folder, backend=backend, threads=threads)
    return student.rewrite(evalset.srcs, evalset.task, controls, embedder=embedder, batch_size=batch_size)
