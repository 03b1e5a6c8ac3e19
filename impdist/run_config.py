"""The main job's configuration (`impdist run`): every setting that decides its results, with
every default resolved, in one dataclass whose canonical JSON is the run's identity.

`impdist run` writes it to `<out>/run.json`; `impdist run --config FILE` reads it back, so a
recorded run can be repeated exactly. The defaults here are the only place `make run`'s
settings live (the Makefile passes none of its own).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from impdist._version import __version__
from impdist.decoding.runtime import BATCH_BACKEND
from impdist.domains import NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, SEED, UNIT, check_fields, setting
from impdist.errors import ImpdistError
from impdist.filters.chain import FilterConfig
from impdist.io.stage_config import Config
from impdist.models.embedded import DEFAULT_EMBEDDER, DEFAULT_TEACHER
from impdist.student.codes import EvalControls
from impdist.student.train import TrainConfig
from impdist.tasks import TASKS

RUN_FILE = "run.json"
FORMAT = 1  # version of run.json's layout


@dataclass(frozen=True)
class RewriteSampling:
    """How the prompted teacher samples rewrites of each source sentence for one task."""

    samples: int = setting(POSITIVE_INT, 4)
    temperature: float = setting(POSITIVE, 0.7)
    top_p: float = setting(UNIT, 0.9)
    extractive: bool = False

    def __post_init__(self) -> None:
        check_fields(self)


def _default_rewrites() -> dict[str, RewriteSampling]:
    # Summaries are deletions (what the compression sets hold), and several of them, for the
    # graph step to keep the most informative one: on held-out Google items that choice beat
    # first-k truncation with 8 samples and lost to it with 2 or 4.
    return {"paraphrase": RewriteSampling(samples=4),
            "summary": RewriteSampling(samples=8, temperature=1.0, top_p=0.95, extractive=True)}


def _default_filters() -> dict[str, FilterConfig]:
    return {t: FilterConfig(task=t, judge_threshold=0.75 if t == "paraphrase" else None) for t in TASKS}


def _default_controls() -> dict[str, EvalControls]:
    # Paraphrases are asked for the 0.30-0.45 diversity bucket: on 1,000 MRPC items outside
    # mrpc-eval it gave three students BERT-iBLEU +0.26 to +0.51 over no code, at iBLEU -0.19 to
    # +0.30 (the students of pairs kept at judge 0.75 / 0.80 / 0.644), and +0.6 / +0.02 on 400
    # more; 0.45-0.60 and >= 0.60 cost BERT-iBLEU. Compression references delete words rather
    # than rephrase, so summaries are asked for the least-diverse bucket, decoded extractively,
    # and the most informative of 8 samples is kept: on Google items 500-699 (outside the
    # evaluated 500) best of 8 and of 12 gave the student 72.4 / 71.7 ROUGE-L and the teacher
    # chosen the same way 67.8 / 67.8, so 12 paid nothing for its half again of the time (items
    # 250-449 earlier: 8 / 12 / 16 67.1 / 68.2 / 68.6).
    return {"paraphrase": EvalControls(diversity=0.4),
            "summary": EvalControls(diversity=0.1, extractive=True, best_of=8)}


@dataclass(frozen=True)
class RunConfig(Config):
    """Everything that decides what `impdist run` produces. Execution choices (workers, executor,
    quiet) are not part of it: they change how fast, not what."""

    teacher: str = DEFAULT_TEACHER
    seed: int = setting(SEED, 0)
    tasks: tuple[str, ...] = TASKS
    # generate: news-prefix contexts x teacher samples per context. The default students learn
    # from the prompted rewrites alone (the ablation: contextual pairs lowered MRPC iBLEU at the
    # same number of pairs), so generation only supplies their sources, the contexts'
    # continuations: 2 samples per context, a third of 6's time (the paper's contextual
    # datasets, which the report still shows, want more: --samples 6 or --preset large).
    contexts: int = setting(POSITIVE_INT, 256)
    samples: int = setting(POSITIVE_INT, 2)
    generate_backend: str = BATCH_BACKEND
    generate_batch_size: int = setting(POSITIVE_INT, 16)
    # judge: a paraphrase cross-encoder trained on labelled pairs; None uses the embedding judge
    judge_data: str | None = "mrpc-judge"  # MRPC's labelled pairs less the evaluated mrpc-eval items
    judge_base: str = DEFAULT_EMBEDDER
    # filter
    embedder: str = DEFAULT_EMBEDDER
    pair_cap: int = setting(POSITIVE_INT, 32)
    # Paraphrase pairs pass the judge at 0.75 rather than at its best-F1 threshold (0.644 on the
    # held-out MRPC part), which let unrelated sentences through: on 1,000 MRPC items outside
    # mrpc-eval, the student of make run's rewrites kept at 0.75 (75 pairs of 99) scored iBLEU
    # +0.65 [+0.30, +1.02] over the one kept at 0.644 (0.80, 49 pairs: +0.88, BERT-iBLEU -0.83 vs 0.75;
    # a MiniLM similarity floor of 0.75 on top: no gain).
    filters: Mapping[str, FilterConfig] = field(default_factory=_default_filters)
    # the prompted teacher's rewrites of its own sentences (the student's data); 0 trains on
    # the contextual pairs alone
    rewrite_sources: int = setting(NON_NEGATIVE_INT, 256)
    rewrites: Mapping[str, RewriteSampling] = field(default_factory=_default_rewrites)
    # one student per task (its base and seed are always the teacher and seed above): the
    # teacher's own weights with the bottom half frozen (steps 0.65x as long, less to overfit on
    # a few hundred pairs), 3 passes over its kept pairs and at least train_min_steps steps (the
    # curve's 1x student: 76 pairs, 40 steps, MRPC iBLEU +1.03 over the teacher);
    # train_minutes, when set, caps each student's training time
    student: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=3.0, freeze=0.5))
    train_min_steps: int = setting(POSITIVE_INT, 40)
    train_minutes: float | None = setting(POSITIVE, None, optional=True)
    train_eval_every: int = setting(POSITIVE_INT, 10)  # held-out loss every N steps: the report's training curve
    # evaluation: set -> how many of its first items are scored: all 1095 MRPC items no judge saw,
    # and 500 compression items (issue 18's floors), each system with its bootstrap interval
    eval_sets: Mapping[str, int] = field(default_factory=lambda: {"mrpc-eval": 1095, "google-compression-dev": 500})
    eval_controls: Mapping[str, EvalControls] = field(default_factory=_default_controls)
    decode_batch: int = setting(POSITIVE_INT, 64)  # rows per batch when the job samples and evaluates: 17% faster than 32

    def __post_init__(self) -> None:
        # The student starts from the teacher's weights with the run's seed: one place for each.
        super().__post_init__()
        object.__setattr__(self, "student", replace(self.student, base=self.teacher, seed=self.seed))
        _check(self)

    def to_json(self) -> dict[str, Any]:
        """The canonical, JSON-ready form (tuples as lists, nested settings as objects)."""
        return json.loads(json.dumps(asdict(self)))

    @property
    def run_id(self) -> str:
        """The fingerprint's first 12 hex digits: equal configs, equal ids."""
        return self.fingerprint[:12]

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "run config") -> RunConfig:
        """Build from (possibly partial) JSON; unknown keys and wrong types are refused by name."""
        return _build(cls, data, where)

    def with_overrides(self, **values: Any) -> RunConfig:
        """A copy with top-level fields replaced (what command-line flags do over a config file)."""
        unknown = sorted(set(values) - {f.name for f in fields(self)})
        if unknown:
            raise ImpdistError(f"unknown run settings: {', '.join(unknown)}")
        return replace(self, **values)


# Nested dataclass fields, and the mapping fields whose values are dataclasses, for from_json.
_NESTED = {"student": TrainConfig}
_MAPPED = {"filters": FilterConfig, "rewrites": RewriteSampling, "eval_controls": EvalControls}


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ImpdistError(f"{where}: expected an object, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ImpdistError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{where}.{name}"
        # A nested section given in part keeps the run's defaults for the keys it leaves out.
        if cls is RunConfig and name in _NESTED:
            values[name] = _build(_NESTED[name], _over(getattr(cls(), name), value), key)
        elif cls is RunConfig and name in _MAPPED:
            if not isinstance(value, Mapping):
                raise ImpdistError(f"{key}: expected an object of task -> settings")
            merged = dict(getattr(cls(), name))  # tasks not given keep their defaults
            for task, v in value.items():
                if isinstance(v, Mapping) and "task" in {f.name for f in fields(_MAPPED[name])}:
                    v = {"task": task, **v}
                merged[task] = _build(_MAPPED[name], _over(merged.get(task), v), f"{key}.{task}")
            values[name] = merged
        elif cls is RunConfig and name == "tasks":
            if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
                raise ImpdistError(f"{key}: expected a list of task names")
            values[name] = tuple(value)
        elif cls is RunConfig and name == "eval_sets":
            if not isinstance(value, Mapping):
                raise ImpdistError(f"{key}: expected an object of evaluation set -> number of items")
            values[name] = dict(value)
        else:
            values[name] = _scalar(value, known[name], key)
    try:
        return cls(**values)
    except (ValueError, ImpdistError) as e:  # the configs' own domain checks, named by where they are
        raise ImpdistError(f"{where}: {e}") from None


def _over(default: Any, given: Any) -> Any:
    """The given JSON object over a default section's fields (given as is when it is no object,
    or there is no default, for _build to refuse or take whole)."""
    if default is None or not isinstance(given, Mapping):
        return given
    return {**json.loads(json.dumps(asdict(default))), **given}


def _scalar(value: Any, f: Any, key: str) -> Any:
    """Check one scalar against its field's annotated type (int, float, bool, str, optional)."""
    kind = str(f.type)
    optional = "None" in kind
    if value is None:
        if optional:
            return None
        raise ImpdistError(f"{key}: may not be null")
    if kind.startswith("bool"):
        ok = isinstance(value, bool)
    elif kind.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind.startswith("float | str"):  # a number, or a code label (EvalControls' codes)
        ok = isinstance(value, (int, float, str)) and not isinstance(value, bool)
        value = float(value) if ok and not isinstance(value, str) else value
    elif kind.startswith("float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ImpdistError(f"{key}: expected {kind.replace(' | None', ' or null')}, got {value!r}")
    return value


def _check(c: RunConfig) -> None:
    """What the fields' own domains (setting()) cannot say: the tasks, a section per task, the
    number of items of each evaluation set. One line naming the key and what it allows."""
    def bad(key: str, allowed: str) -> ImpdistError:
        return ImpdistError(f"run setting {key}: must be {allowed}")

    if not c.tasks or any(t not in TASKS for t in c.tasks) or len(set(c.tasks)) != len(c.tasks):
        raise bad("tasks", f"one or both of {', '.join(TASKS)}")
    for section in ("filters", "rewrites", "eval_controls"):
        missing = [t for t in c.tasks if t not in getattr(c, section)]
        if missing:
            raise bad(section, f"settings for every task (missing: {', '.join(missing)})")
    for name, items in c.eval_sets.items():
        POSITIVE_INT.check(items, f"run setting eval_sets.{name} (items to score)")
    for task, f in c.filters.items():
        if f.task != task:
            raise bad(f"filters.{task}.task", f"{task!r}, the task it is listed under")


# Named starting points for `impdist run --preset NAME`: settings over RunConfig's defaults
# (`default` is `make run`). `large` scales the data the curve in the README measured
# (experiments/curve.py): 4x the contexts with the paper's contextual pairs sampled 6 per
# context, 8x the rewrite sources and twice the paraphrase samples per source, scored on every
# Google item; hours on 2 CPU cores, minutes on a GPU.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "large": {
        "contexts": 1024,
        "samples": 6,
        "rewrite_sources": 2048,
        "rewrites": {"paraphrase": {"samples": 8}},
        "eval_sets": {"mrpc-eval": 1095, "google-compression-dev": 1000},
    },
}


def preset(name: str) -> RunConfig:
    """The config of a named preset (PRESETS)."""
    if name not in PRESETS:
        raise ImpdistError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return RunConfig.from_json(PRESETS[name], where=f"preset {name}")


def read_run_config(path: str | os.PathLike) -> RunConfig:
    """The config recorded in a run.json (or a file holding just the config object)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImpdistError(f"{path}: no such config file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ImpdistError(f"{path}: not a JSON run config ({e}); give the run.json an earlier `impdist run` wrote") \
            from None
    if isinstance(data, dict) and "config" in data and "run_id" in data:
        data = data["config"]
    return RunConfig.from_json(data, where=str(path))


def run_record(config: RunConfig, execution: Mapping[str, Any]) -> dict[str, Any]:
    """What run.json holds: the version, the run id, the config, and how it was executed."""
    return {"format": FORMAT, "impdist": __version__, "run_id": config.run_id, "config": config.to_json(),
            "execution": dict(execution)}
