"""The student's prompt format: control codes (task, length bucket, diversity bucket, syntax
exemplar) written as a text prefix before the source.

A decoder-only student reads ``<task: paraphrase | length: 0.90-1.10 | diversity: 0.30-0.45>``,
``Input: SRC``, ``Output:`` on three lines and continues with `` TGT`` then EOS; an
encoder-decoder student reads the same prompt and writes ``TGT``. Codes are plain text, not
new tokens: any tokenizer reads them and the embeddings need no resizing. The bucket edges are
saved in each student's student.json, so a student keeps its format when the defaults change.

Syntax exemplar: the paper controls syntax with a parse of an exemplar sentence. impdist has no
parser, so it uses a *syntax sketch*: the sentence's function words and punctuation kept, every
other word replaced by ``_`` (``the _ _ said on _ that it would _ .``). Training shows the
sketch of the target; at inference the user's exemplar is sketched the same way.
"""
from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Sequence

from impdist.domains import COMPRESSION, DIVERSITY, POSITIVE_INT
from impdist.student.errors import StudentError
from impdist.tasks import check_task

FORMAT_VERSION = "impdist-student/1"

FUNCTION_WORDS = frozenset("""
a an the this that these those some any each every no all both either neither
of in on at to for from by with about into onto over under after before since until during
through between among against without within upon than as like per via
and or but nor so yet if because while although though whereas unless whether
is are was were be been being am has have had having do does did will would shall should
can could may might must not n't 's
it its he him his she her hers they them their theirs we us our ours you your yours i me my
who whom whose which what when where why how there here then also only just very more most
""".split())

_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def syntax_sketch(sentence: str) -> str:
    """The sentence's function words (lower-cased) and punctuation, other words as ``_``."""
    out = []
    for tok in _TOKEN.findall(sentence):
        low = tok.lower()
        out.append(low if low in FUNCTION_WORDS or not (tok[0].isalnum() or tok[0] == "_") else "_")
    return " ".join(out)


@dataclass(frozen=True)
class Buckets:
    """Ranges of a score cut at `edges`; a value's bucket label (``0.75-0.90``) is its code."""

    name: str
    edges: tuple[float, ...]

    def labels(self) -> tuple[str, ...]:
        """Every bucket's label, lowest first."""
        e = self.edges
        inner = [f"{a:.2f}-{b:.2f}" for a, b in zip(e, e[1:])]
        return (f"<{e[0]:.2f}", *inner, f">{e[-1]:.2f}")

    def label(self, value: float) -> str:
        """The label of the bucket holding value (edges belong to the bucket above them)."""
        index = sum(value >= edge for edge in self.edges)
        return self.labels()[index]

    def resolve(self, value: float | str | None, what: str) -> str | None:
        """A user's request (a number, a label, or None for no code) as a bucket label."""
        if value is None:
            return None
        if isinstance(value, str):
            if value in self.labels():
                return value
            try:
                value = float(value)
            except ValueError:
                raise StudentError(f"{what}={value!r} is neither a number nor one of this student's "
                                   f"{self.name} codes: {', '.join(self.labels())}") from None
        return self.label(float(value))


@dataclass(frozen=True)
class Controls:
    """The codes of one prompt; None leaves a code out (the student was trained with such prompts too)."""

    task: str = "paraphrase"
    length: str | None = None       # a LENGTH bucket label: len(tgt) / len(src) in characters
    diversity: str | None = None    # a DIVERSITY bucket label: 1 - ROUGE-L F1(tgt, src)
    exemplar: str | None = None     # a syntax sketch


@dataclass(frozen=True)
class EvalControls:
    """How the student decodes a task beyond the task itself: its diversity and length codes (a
    number picks its bucket, a code label is taken as is; None leaves the code out), deletion-only
    (extractive) decoding, and best_of > 1 (summaries): the most informative of that many
    samples. `impdist evaluate`, `impdist run`'s evaluation and `Paraphraser.rewrite` take it."""

    diversity: float | str | None = None
    compression: float | str | None = None
    extractive: bool = False
    best_of: int = 1

    def __post_init__(self) -> None:
        for name, domain in (("diversity", DIVERSITY), ("compression", COMPRESSION)):
            value = getattr(self, name)
            if isinstance(value, str):  # "0.6" from a command line is the number 0.6
                try:
                    value = float(value)
                except ValueError:
                    continue  # a code label: the student checks it
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise StudentError(f"{name} must be a number, a code label or None, got {value!r}")
            object.__setattr__(self, name, domain.check(value, name, optional=True))
        if not isinstance(self.extractive, bool):
            raise StudentError(f"extractive must be True or False, got {self.extractive!r}")
        POSITIVE_INT.check(self.best_of, "best_of")

    def as_controls(self) -> dict[str, Any]:
        """Only what differs from plain greedy decoding, as keyword arguments of
        Paraphraser.generate; also the evaluation cache's key, so equal settings share results."""
        default = EvalControls()
        return {k: v for k, v in asdict(self).items() if v != getattr(default, k)}

    @classmethod
    def from_mapping(cls, controls: Mapping[str, Any]) -> EvalControls:
        """From a dict of the same keys (what `controls` was before it had a type)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(controls) - known)
        if unknown:
            raise StudentError(f"unknown decoding control(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**controls)


@dataclass(frozen=True)
class PromptFormat:
    """How pairs and requests become prompts; saved in student.json (see `to_json`)."""

    length_edges: tuple[float, ...] = (0.5, 0.75, 0.9, 1.1, 1.3)
    diversity_edges: tuple[float, ...] = (0.3, 0.45, 0.6)
    version: str = FORMAT_VERSION
    length: Buckets = field(init=False, repr=False, compare=False)
    diversity: Buckets = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, edges in (("length", self.length_edges), ("diversity", self.diversity_edges)):
            if not edges or list(edges) != sorted(set(edges)):
                raise ValueError(f"{name} bucket edges must be increasing and non-empty, got {edges}")
        object.__setattr__(self, "length", Buckets("length", tuple(self.length_edges)))
        object.__setattr__(self, "diversity", Buckets("diversity", tuple(self.diversity_edges)))

    def to_json(self) -> dict:
        return {"version": self.version, "length_edges": list(self.length_edges),
                "diversity_edges": list(self.diversity_edges)}

    @classmethod
    def from_json(cls, data: dict) -> PromptFormat:
        if data.get("version") != FORMAT_VERSION:
            raise StudentError(f"this student uses prompt format {data.get('version')!r}, but this impdist "
                               f"reads {FORMAT_VERSION!r}; install the impdist version that trained it")
        return cls(tuple(data["length_edges"]), tuple(data["diversity_edges"]))

    def prompt(self, src: str, controls: Controls) -> str:
        """The text the student reads; a decoder-only student continues it with ' TGT'."""
        codes = [f"task: {controls.task}"]
        if controls.length is not None:
            codes.append(f"length: {controls.length}")
        if controls.diversity is not None:
            codes.append(f"diversity: {controls.diversity}")
        if controls.exemplar is not None:
            codes.append(f"syntax: {controls.exemplar}")
        return f"<{' | '.join(codes)}>\nInput: {' '.join(src.split())}\nOutput:"

    def request(self, task: str, *, compression: float | str | None = None, diversity: float | str | None = None,
                exemplar: str | None = None) -> Controls:
        """The controls of a user's request; numbers pick the bucket they fall in."""
        check_task(task)
        if exemplar is not None and not exemplar.strip():
            raise StudentError("exemplar is blank: give a sentence whose syntax the output should follow, or None")
        return Controls(task, self.length.resolve(compression, "compression"),
                        self.diversity.resolve(diversity, "diversity"),
                        syntax_sketch(exemplar) if exemplar is not None else None)

    def training_controls(self, task: str, tgt: str, compression: float, rouge_l: float, rng: random.Random, *,
                          code_dropout: float, exemplar_rate: float) -> Controls:
        """The codes a training pair is shown with: its own buckets, each left out with
        probability code_dropout, and its target's sketch with probability exemplar_rate."""
        length = self.length.label(compression) if rng.random() >= code_dropout else None
        diversity = self.diversity.label(1.0 - rouge_l) if rng.random() >= code_dropout else None
        exemplar = syntax_sketch(tgt) if rng.random() < exemplar_rate else None
        return Controls(task, length, diversity, exemplar)


def target_text(tgt: str, *, decoder_only: bool) -> str:
    """The target as the student writes it: after ``Output:`` a decoder-only one starts with a space."""
    tgt = " ".join(tgt.split())
    return f" {tgt}" if decoder_only else tgt


def check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    """The texts as a list of str, or a StudentError naming the first bad one."""
    if isinstance(texts, str):
        raise StudentError(f"{what} must be a list of strings, got one string; wrap it: [{texts[:40]!r}]")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise StudentError(f"{what}[{i}] is {type(t).__name__}, expected a string")
    return out
