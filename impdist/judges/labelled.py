"""Labelled pair files (MRPC, STS, SICK) for training and calibrating judges, and their held-out split.

The format is detected from the fields of the first record; every record must then have them:

  MRPC  {"id", "a", "b", "label": 0 | 1}            symmetric; positive = 1 (paraphrase)
  STS   {"id", "a", "b", "score": 0..5}             symmetric; positive = score >= 4 (STS 2012's
                                                    "mostly equivalent" and above), the usual binarisation
  SICK  {"id", "premise", "hypothesis", "label"}    directional; label entailment | neutral |
                                                    contradiction, positive = entailment
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from impdist.io.atomic import sha256_file
from impdist.data import resolve
from impdist.errors import EmptyInputError, MalformedInputError
from impdist.io import read_jsonl

__all__ = ["LabelledPairs", "read_labelled", "heldout_mask", "HOLDOUT", "STS_POSITIVE", "Split"]

HOLDOUT = 0.2        # fraction of ids held out from training, for calibration and evaluation
STS_POSITIVE = 4.0   # an STS pair is a positive (equivalent) pair when its score is at least this
NLI_LABELS = ("entailment", "neutral", "contradiction")
PARAPHRASE_LABELS = ("not_paraphrase", "paraphrase")

Split = Literal["heldout", "train", "all"]
Format = Literal["mrpc", "sts", "sick"]

# format -> (text fields, label field); checked in this order, so SICK's extra fields do not matter.
_FORMATS: dict[Format, tuple[tuple[str, str], str]] = {
    "sick": (("premise", "hypothesis"), "label"),
    "sts": (("a", "b"), "score"),
    "mrpc": (("a", "b"), "label"),
}


@dataclass(frozen=True)
class LabelledPairs:
    """Pairs with gold labels: `labels` index `label_names`; `positive_label` is the equivalent class."""

    path: Path
    format: Format
    ids: list[str]
    a: list[str]                 # MRPC/STS sentence a, SICK premise
    b: list[str]                 # MRPC/STS sentence b, SICK hypothesis
    labels: np.ndarray           # int64 class index per pair
    label_names: tuple[str, ...]
    positive_label: int
    directional: bool            # True for SICK (premise -> hypothesis); MRPC and STS are symmetric

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def positive(self) -> np.ndarray:
        """bool per pair: a paraphrase (MRPC, STS >= 4) or an entailment (SICK)."""
        return self.labels == self.positive_label

    @cached_property
    def sha256(self) -> str:
        """Fingerprint of the file the pairs were read from."""
        return sha256_file(self.path)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, mask: np.ndarray) -> LabelledPairs:
        """The pairs where mask is True, in file order."""
        keep = np.flatnonzero(mask)
        return replace(self, ids=[self.ids[i] for i in keep], a=[self.a[i] for i in keep],
                       b=[self.b[i] for i in keep], labels=self.labels[keep])

    def split(self, split: Split, holdout: float = HOLDOUT) -> LabelledPairs:
        """The held-out part, the training part (the rest), or all pairs (see heldout_mask)."""
        if split == "all":
            return self
        if split not in ("heldout", "train"):
            raise ValueError(f"split must be 'heldout', 'train' or 'all', not {split!r}")
        mask = heldout_mask(self.ids, holdout)
        return self.subset(mask if split == "heldout" else ~mask)


def heldout_mask(ids: Sequence[str], fraction: float = HOLDOUT) -> np.ndarray:
    """True for the ids in the held-out part: sha1(id) below `fraction` of the hash range.

    A hash of the id, not a shuffled index, so a pair stays on its side of the split whatever the
    file order, the other rows or the seed: training and calibration always agree.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"held-out fraction must be in [0, 1], got {fraction}")
    cut = int(fraction * 2**64)
    return np.fromiter((int.from_bytes(hashlib.sha1(i.encode()).digest()[:8], "big") < cut
                        for i in ids), dtype=bool, count=len(ids))


def read_labelled(path: str | PathLike) -> LabelledPairs:
    """Read MRPC, STS or SICK pairs (format detected from the first record's fields) from a file, a
    named set (mrpc-dev-labelled, sts-dev, sick-nli-dev) or hf:REPO[:CONFIG[:SPLIT]] (impdist.data.resolve)."""
    path = resolve(path, "labelled")
    fmt: Format | None = None
    ids: list[str] = []
    a: list[str] = []
    b: list[str] = []
    labels: list[int] = []
    for n, rec in enumerate(read_jsonl(path), start=1):
        where = f"{path}: record {n}"
        if fmt is None:
            fmt = _detect(rec, where)
        (fa, fb), flabel = _FORMATS[fmt]
        for field in ("id", fa, fb, flabel):
            if field not in rec:
                raise MalformedInputError(f"{where}: no field {field!r}; a {fmt.upper()} file needs "
                                          f"'id', {fa!r}, {fb!r} and {flabel!r} in every record.")
        ids.append(str(rec["id"]))
        a.append(_text(rec[fa], where, fa))
        b.append(_text(rec[fb], where, fb))
        labels.append(_label(fmt, rec[flabel], where))
    if fmt is None:
        raise EmptyInputError(f"{path}: holds no records; give an MRPC, STS or SICK JSONL file.")
    directional = fmt == "sick"
    names = NLI_LABELS if directional else PARAPHRASE_LABELS
    return LabelledPairs(path, fmt, ids, a, b, np.asarray(labels, dtype=np.int64), names,
                         names.index("entailment" if directional else "paraphrase"), directional)


def _detect(rec: dict, where: str) -> Format:
    for fmt, ((fa, fb), flabel) in _FORMATS.items():
        if {fa, fb, flabel} <= rec.keys():
            return fmt
    have = ", ".join(map(repr, list(rec)[:10])) or "no fields"
    raise MalformedInputError(
        f"{where}: cannot tell the format from its fields ({have}). Expected MRPC "
        "{id, a, b, label: 0|1}, STS {id, a, b, score: 0..5} or SICK "
        "{id, premise, hypothesis, label: entailment|neutral|contradiction}.")


def _text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise MalformedInputError(f"{where}: field {field!r} is {type(value).__name__}, expected a string.")
    return value


def _label(fmt: Format, value: Any, where: str) -> int:
    if fmt == "sick":
        if isinstance(value, str) and value.lower() in NLI_LABELS:
            return NLI_LABELS.index(value.lower())
        raise MalformedInputError(f"{where}: field 'label' is {value!r}; a SICK label is one of "
                                  f"{', '.join(NLI_LABELS)}.")
    if fmt == "sts":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 5:
            return int(value >= STS_POSITIVE)
        raise MalformedInputError(f"{where}: field 'score' is {value!r}; an STS score is a number "
                                  "from 0 to 5.")
    if value in (0, 1) and not isinstance(value, float):
        return int(value)
    raise MalformedInputError(f"{where}: field 'label' is {value!r}; an MRPC label is 0 or 1.")
