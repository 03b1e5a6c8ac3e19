"""The data impdist ships (see PROVENANCE.md beside this file) and the one resolver every reader uses.

`resolve(spec, kind)` turns what a user passes as data into a file, looking in this order:

1. `spec` is an existing file: that file.
2. `spec` is a named set (NAMED): `$IMPDIST_DATA/<its file>` when IMPDIST_DATA is set and holds
   it, else the copy shipped in this package. A folder that lacks the file falls back to the
   shipped copy, so IMPDIST_DATA can override some sets and leave the others alone. A set that is
   a part of a file (`mrpc-eval`, `mrpc-judge`: the MRPC items split by id, see `in_eval_part`)
   is that file's rows of the part, written once into the artefact cache.
3. `spec` is `hf:REPO[:CONFIG[:SPLIT]]`: the Hugging Face dataset, converted once to impdist's
   JSONL layout for `kind` and kept in the artefact cache (impdist.io.cache), keyed by the spec.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

from impdist.errors import ImpdistError, InputNotFoundError, MalformedInputError
from impdist.extras import require
from impdist.io.atomic import sha256_file
from impdist.io.cache import artefact, cache_key

__all__ = ["NAMED", "NamedSet", "Kind", "Part", "SHIPPED", "EVAL_SHARE", "in_eval_part", "names", "data_file",
           "resolve"]

Kind = Literal["eval", "labelled"]
_WHAT: dict[str, str] = {"eval": "evaluation set", "labelled": "labelled-pairs set"}
_AN: dict[str, str] = {"eval": "an evaluation set", "labelled": "a labelled-pairs set"}
_FILE: dict[str, str] = {"eval": "a JSONL or TSV file", "labelled": "a JSONL file"}
SHIPPED = Path(__file__).resolve().parent   # the package's own copies
HF = "hf:"
_FORMAT = 1  # bump when the hf: conversion changes, so cached conversions are redone
Part = Literal["eval", "judge"]
# The share of MRPC's item ids set apart for evaluation: 1095 of the 2753 paraphrase pairs, so a
# judge trained and calibrated on the other part (2480 labelled pairs) never saw an evaluated item.
EVAL_SHARE = 0.4


@dataclass(frozen=True)
class NamedSet:
    """A set shipped in this package: its file, what it holds (`kind`) and its task."""

    file: str
    kind: Kind
    task: str  # eval: paraphrase | summary; labelled: paraphrase | similarity | nli
    part: Part | None = None  # only the file's rows whose id is in this part (in_eval_part)


NAMED: dict[str, NamedSet] = {
    # evaluation sets: {"id", "src", "refs"}
    "mrpc-dev": NamedSet("mrpc_dev.jsonl", "eval", "paraphrase"),
    "mrpc-eval": NamedSet("mrpc_dev.jsonl", "eval", "paraphrase", part="eval"),  # judge-unseen
    "google-compression-dev": NamedSet("summ_google_dev.jsonl", "eval", "summary"),
    "broadcast-dev": NamedSet("summ_broadcast_dev.jsonl", "eval", "summary"),
    "bnc-dev": NamedSet("summ_bnc_dev.jsonl", "eval", "summary"),
    # labelled pairs (impdist.filters.labelled): MRPC, STS and SICK layouts
    "mrpc-dev-labelled": NamedSet("mrpc_dev_labelled.jsonl", "labelled", "paraphrase"),
    "mrpc-judge": NamedSet("mrpc_dev_labelled.jsonl", "labelled", "paraphrase", part="judge"),  # no mrpc-eval id
    "sts-dev": NamedSet("sts_dev.jsonl", "labelled", "similarity"),
    "sick-nli-dev": NamedSet("sick_nli_dev.jsonl", "labelled", "nli"),
}


def names(kind: Kind | None = None) -> list[str]:
    """The named sets of `kind` (all of them for None), in registry order."""
    return [name for name, s in NAMED.items() if kind is None or s.kind == kind]


def data_file(file: str) -> Path:
    """A shipped data file by its file name: `$IMPDIST_DATA/<file>` if there, else the shipped copy."""
    env = os.environ.get("IMPDIST_DATA")
    if env and (Path(env).expanduser() / file).is_file():
        return Path(env).expanduser() / file
    if (SHIPPED / file).is_file():
        return SHIPPED / file
    shipped = ", ".join(sorted(p.name for p in SHIPPED.iterdir() if p.suffix in (".json", ".jsonl")))
    raise InputNotFoundError(f"{file}: not a data file impdist ships (it ships {shipped}); "
                             "check the name, or reinstall impdist if one of those is missing")


def resolve(spec: str | os.PathLike, kind: Kind) -> Path:
    """The file behind `spec` (a path, a named set or hf:REPO[:CONFIG[:SPLIT]]) for data of `kind`.

    Lookup order: an existing file, then a named set ($IMPDIST_DATA, then the shipped copy), then
    a Hugging Face dataset converted into the cache; anything else is an error listing the names.
    """
    if kind not in _WHAT:
        raise ValueError(f"kind must be one of {', '.join(_WHAT)}, not {kind!r}")
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    usage = (f"pass {_FILE[kind]}, a named {_WHAT[kind]} ({', '.join(names(kind))}) or "
             "hf:REPO[:CONFIG[:SPLIT]] (a Hugging Face dataset)")
    if path.is_dir():
        raise InputNotFoundError(f"{text}: is a folder; {usage}")
    if text in NAMED:
        named = NAMED[text]
        if named.kind != kind:
            raise ImpdistError(f"{text!r} is a named {_WHAT[named.kind]}, not {_AN[kind]}; {usage}")
        return data_file(named.file) if named.part is None else _part(text, named)
    if text.startswith(HF):
        return _from_hub(text, kind)
    close = difflib.get_close_matches(text, names(kind), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputNotFoundError(f"{text}: no such file, nor a named {_WHAT[kind]}{hint}; {usage}")


def in_eval_part(item_id: str) -> bool:
    """Whether an item id falls in the evaluation part: a hash of the id below EVAL_SHARE, so the
    split is fixed by the ids alone (the same in every file that names the item, and stable as
    files grow)."""
    h = int(hashlib.sha256(f"impdist-split:{item_id}".encode()).hexdigest()[:8], 16)
    return h / 2**32 < EVAL_SHARE


def _part(name: str, named: NamedSet) -> Path:
    """The rows of a named set's file whose ids fall in its part, kept in the artefact cache."""
    source = data_file(named.file)
    want = named.part == "eval"

    def build(tmp: Path) -> None:
        with open(source, "rb") as f, open(tmp / named.file, "wb") as out:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    item_id = json.loads(raw)["id"]
                except (ValueError, KeyError, TypeError):
                    raise MalformedInputError(f"{source}:{lineno}: {name} splits this file by each row's 'id', and "
                                              "this row has none; give every row an id") from None
                if in_eval_part(str(item_id)) == want:
                    out.write(raw if raw.endswith(b"\n") else raw + b"\n")

    key = cache_key(name, file=named.file, sha256=sha256_file(source), share=EVAL_SHARE, part=named.part)
    return artefact("data-part", name, key, build) / named.file


# --- hf:REPO[:CONFIG[:SPLIT]] -------------------------------------------------------------------

# Column layouts a Hugging Face dataset may have, per kind, with the impdist record each becomes.
_EVAL_LAYOUTS = (("src", "refs"), ("src", "ref"), ("sentence1", "sentence2", "label"),
                 ("document", "summary"), ("text", "summary"))
_LABELLED_LAYOUTS = (("a", "b", "label"), ("sentence1", "sentence2", "label"), ("a", "b", "score"),
                     ("sentence1", "sentence2", "score"), ("premise", "hypothesis", "label"),
                     ("sentence_A", "sentence_B", "label"))
_NLI_TEXTS = (("premise", "hypothesis"), ("sentence_A", "sentence_B"))
_NLI_LABELS = ("entailment", "neutral", "contradiction")
_ID_COLUMNS = ("id", "idx", "pair_ID")


def _from_hub(spec: str, kind: Kind) -> Path:
    parts = spec[len(HF):].split(":")
    if not parts[0] or len(parts) > 3:
        raise ImpdistError(f"{spec}: a Hugging Face dataset is hf:REPO[:CONFIG[:SPLIT]], "
                           "e.g. hf:nyu-mll/glue:mrpc:validation")
    repo, config, split = (parts + ["", ""])[:3]
    file = re.sub(r"[^A-Za-z0-9._-]+", "_", spec[len(HF):]).strip("._") + ".jsonl"

    def build(tmp: Path) -> None:
        rows = _convert(_load(spec, kind, repo, config or None, split or None), spec, kind)
        n = 0
        with open(tmp / file, "w", encoding="utf-8") as f:
            for n, row in enumerate(rows, 1):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        if n == 0:
            raise ImpdistError(f"{spec}: holds no usable rows for {_AN[kind]} (unlabelled rows, and for an "
                               "evaluation set pairs not labelled 1, are skipped); choose another split")

    return artefact(f"data-{kind}", spec, cache_key(spec, kind=kind, format=_FORMAT), build) / file


def _load(spec: str, kind: Kind, repo: str, config: str | None, split: str | None) -> Any:
    require("hub", what=f"reading {spec}")
    import datasets  # imported here, not at the top: it pulls in pyarrow and pandas, and only hf: needs it

    try:
        ds = datasets.load_dataset(repo, config, split=split)
    except Exception as e:  # no network, no such repo/config/split: the library's errors vary
        why = (str(e).strip().splitlines() or [""])[0][:200]
        raise ImpdistError(f"{spec}: cannot load it from the Hugging Face Hub ({type(e).__name__}: {why}); "
                           f"hf: data needs the Hub (or the datasets cache), so offline pass {_FILE[kind]} or a "
                           f"named {_WHAT[kind]} ({', '.join(names(kind))}) instead") from e
    if isinstance(ds, dict):  # a DatasetDict: no split was named
        if len(ds) != 1:
            raise ImpdistError(f"{spec}: has splits {', '.join(ds)}; name one, e.g. hf:{repo}:{config or ''}:"
                               f"{next(iter(ds), 'validation')}")
        ds = next(iter(ds.values()))
    return ds


def _convert(ds: Any, spec: str, kind: Kind) -> Iterator[dict]:
    """impdist records from the rows of a datasets.Dataset (eval: src/refs; labelled: MRPC/STS/SICK)."""
    columns = list(ds.column_names)
    layouts = _EVAL_LAYOUTS if kind == "eval" else _LABELLED_LAYOUTS
    layout = next((cols for cols in layouts if set(cols) <= set(columns)), None)
    if layout is None:
        expected = "; ".join("+".join(cols) for cols in layouts)
        raise MalformedInputError(f"{spec}: cannot read its columns ({', '.join(columns)}) as {_AN[kind]}; "
                                  f"expected one of: {expected}. Convert it to a JSONL file and pass its path")
    id_column = next((c for c in _ID_COLUMNS if c in columns), None)
    names_of = getattr(ds.features.get(layout[-1]), "names", None) if len(layout) == 3 else None
    scored = len(layout) == 3 and _is_float(ds.features.get(layout[-1]))
    if kind == "eval" and scored:
        raise MalformedInputError(f"{spec}: column {layout[-1]!r} holds scores, not paraphrase labels 0/1; an "
                                  "evaluation set keeps the pairs labelled 1")
    for n, row in enumerate(ds):
        where = f"{spec}: row {n}"
        rid = str(row[id_column]) if id_column else str(n)
        if kind == "eval":
            if len(layout) == 3 and row[layout[2]] != 1:
                continue  # a labelled paraphrase set: keep the paraphrases (label 1) only
            refs = row[layout[1]]
            refs = refs if isinstance(refs, (list, tuple)) else [refs]
            yield {"id": rid, "src": _text(row[layout[0]], where, layout[0]),
                   "refs": [_text(r, where, layout[1]) for r in refs]}
            continue
        a, b, label = (_text(row[layout[0]], where, layout[0]), _text(row[layout[1]], where, layout[1]),
                       row[layout[2]])
        if label is None or (isinstance(label, (int, float)) and label < 0):
            continue  # unlabelled (e.g. GLUE's test split marks it -1)
        if layout[:2] in _NLI_TEXTS:
            yield {"id": rid, "premise": a, "hypothesis": b, "label": _nli_label(label, names_of, where)}
        elif scored or layout[2] == "score":
            yield {"id": rid, "a": a, "b": b, "score": float(label)}
        elif label in (0, 1):
            yield {"id": rid, "a": a, "b": b, "label": int(label)}
        else:
            raise MalformedInputError(f"{where}: label {label!r} is not a paraphrase label 0 or 1")


def _is_float(feature: Any) -> bool:
    return str(getattr(feature, "dtype", "")).startswith("float")


def _text(value: Any, where: str, column: str) -> str:
    if not isinstance(value, str):
        raise MalformedInputError(f"{where}: column {column!r} is {type(value).__name__}, expected text")
    return value


def _nli_label(value: Any, class_names: list[str] | None, where: str) -> str:
    if isinstance(value, int) and class_names is not None and 0 <= value < len(class_names):
        value = class_names[value]
    if isinstance(value, str) and value.lower() in _NLI_LABELS:
        return value.lower()
    raise MalformedInputError(f"{where}: label {value!r} is not one of {', '.join(_NLI_LABELS)} (an integer label "
                              "needs the dataset's class names); convert it to a SICK-style JSONL file")
