"""impdist.data: the shipped sets, the resolver's lookup order, hf: conversion, and no data outside the repo.

Lookup order: an existing file > $IMPDIST_DATA/<file> > the shipped copy. An IMPDIST_DATA folder
without the file falls back to the shipped copy (so it may override only some sets); that is tested
here, as is every error a user can meet: an unknown name, the wrong kind, no `datasets`, no Hub.
"""
from __future__ import annotations

import importlib.machinery
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from impdist import data
from impdist.data import NAMED, SHIPPED, names, resolve
from impdist.errors import ImpdistError, InputNotFoundError, MalformedInputError, MissingExtraError
from impdist.evaluation.data import load_eval_set
from impdist.judges.labelled import read_labelled

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_data_override(monkeypatch):
    monkeypatch.delenv("IMPDIST_DATA", raising=False)


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --- lookup order -------------------------------------------------------------------------------

def test_an_explicit_file_beats_impdist_data_which_beats_the_shipped_copy(tmp_path, monkeypatch):
    assert resolve("mrpc-dev", "eval") == SHIPPED / "mrpc_dev.jsonl"
    override = tmp_path / "override"
    override.mkdir()
    monkeypatch.setenv("IMPDIST_DATA", str(override))
    assert resolve("mrpc-dev", "eval") == SHIPPED / "mrpc_dev.jsonl"  # the folder lacks it: shipped copy
    mine = write(override / "mrpc_dev.jsonl", [{"id": "1", "src": "a b", "refs": ["b a"]}])
    assert resolve("mrpc-dev", "eval") == mine
    assert load_eval_set("mrpc-dev").srcs == ["a b"]
    explicit = write(tmp_path / "mrpc-dev", [{"id": "2", "src": "c d", "refs": ["d c"]}])
    monkeypatch.chdir(tmp_path)  # a file named like the set, in the working directory, wins
    assert resolve("mrpc-dev", "eval") == Path("mrpc-dev") and explicit.is_file()
    assert load_eval_set("mrpc-dev").srcs == ["c d"]


def test_every_named_set_resolves_and_parses_with_its_reader():
    assert set(names("eval")) | set(names("labelled")) == set(NAMED)
    for name in names("eval"):
        s = load_eval_set(name)
        assert s.name == name and s.task == NAMED[name].task and len(s) > 500
    formats = {"mrpc-dev-labelled": "mrpc", "mrpc-judge": "mrpc", "sts-dev": "sts", "sick-nli-dev": "sick"}
    for name in names("labelled"):
        pairs = read_labelled(name)
        assert pairs.format == formats[name] and pairs.positive.any() and not pairs.positive.all()
        assert (pairs.path == SHIPPED / NAMED[name].file) == (NAMED[name].part is None)


def test_the_judge_part_and_the_eval_part_of_mrpc_share_no_item(cache_root):
    """mrpc-judge (what `make run`'s judge trains and calibrates on) and mrpc-eval (what it is
    evaluated on) split MRPC's items by id: disjoint, together the whole file, and >= 1000 items
    to evaluate on (issue 18)."""
    ids = lambda path: [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    judge, evaluated = ids(resolve("mrpc-judge", "labelled")), ids(resolve("mrpc-eval", "eval"))
    everything, positives = ids(SHIPPED / "mrpc_dev_labelled.jsonl"), ids(SHIPPED / "mrpc_dev.jsonl")
    assert len(evaluated) >= 1000 and not set(judge) & set(evaluated)
    assert sorted(judge + evaluated) == sorted(i for i in everything if i in set(judge) | set(positives))
    assert set(evaluated) <= set(positives) and all(data.in_eval_part(i) for i in evaluated)
    assert not any(data.in_eval_part(i) for i in judge)
    assert resolve("mrpc-eval", "eval") == resolve("mrpc-eval", "eval")  # built once, then read from the cache


def test_a_split_set_names_the_row_without_an_id(tmp_path, monkeypatch, cache_root):
    monkeypatch.setenv("IMPDIST_DATA", str(tmp_path))
    write(tmp_path / "mrpc_dev.jsonl", [{"id": "a", "src": "x", "refs": ["y"]}, {"src": "no id", "refs": ["z"]}])
    with pytest.raises(MalformedInputError, match=r"mrpc_dev.jsonl:2: mrpc-eval splits this file by each row's 'id'"):
        resolve("mrpc-eval", "eval")


def _provenance_rows() -> dict[str, str]:
    text = (SHIPPED / "PROVENANCE.md").read_text(encoding="utf-8")
    table = text.split("## Files", 1)[1].split("\n## ", 1)[0]  # the first table: file, named set, rows, ...
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[\w.]+\.jsonl?", cells[0]):
            rows[cells[0]] = cells[2]
    return rows


def test_row_counts_match_provenance_and_every_shipped_file_is_listed():
    rows = _provenance_rows()
    shipped = {p.name for p in SHIPPED.iterdir() if p.suffix in (".json", ".jsonl")}
    assert set(rows) == shipped and {s.file for s in NAMED.values()} <= shipped
    for file, count in rows.items():
        path = SHIPPED / file
        if file.endswith(".jsonl"):
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            assert len(lines) == int(count), file
        else:
            prefix = json.loads(path.read_text(encoding="utf-8"))
            assert count.startswith(f"{len(prefix['city_country'])} city/country pairs, {len(prefix['media_list'])} ")


def test_unknown_names_and_the_wrong_kind_list_the_named_sets(tmp_path):
    with pytest.raises(InputNotFoundError, match=r"mrpc-labelled: no such file, nor a named labelled-pairs set "
                                                 r"\(did you mean 'mrpc-dev-labelled'\?\).*sick-nli-dev"):
        resolve("mrpc-labelled", "labelled")
    with pytest.raises(InputNotFoundError, match="no such file"):  # a path reads as one too
        read_labelled(tmp_path / "nope.jsonl")
    with pytest.raises(InputNotFoundError, match="is a folder"):
        resolve(tmp_path, "eval")
    with pytest.raises(ImpdistError, match=r"'mrpc-dev' is a named evaluation set, not a labelled-pairs set; "
                                           r".*mrpc-dev-labelled, mrpc-judge, sts-dev, sick-nli-dev"):
        read_labelled("mrpc-dev")


def test_importing_the_package_data_stays_light():
    code = "import sys, impdist.data; print(sorted({'torch', 'datasets', 'pyarrow', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- hf: specs, with a stand-in `datasets` module ------------------------------------------------

class FakeDataset:
    """What the resolver uses of a datasets.Dataset: column_names, features, and its rows."""

    def __init__(self, columns: dict[str, list], features: dict | None = None) -> None:
        self.column_names = list(columns)
        self.features = features or {}
        self._rows = [dict(zip(columns, values)) for values in zip(*columns.values())]

    def __iter__(self):
        return iter(self._rows)


def fake_datasets(monkeypatch, result) -> list[tuple]:
    """Install a stand-in `datasets` whose load_dataset returns `result` (or raises it); returns the calls."""
    calls = []

    def load_dataset(repo, config=None, split=None):
        calls.append((repo, config, split))
        if isinstance(result, BaseException):
            raise result
        return result

    module = types.ModuleType("datasets")
    module.__spec__ = importlib.machinery.ModuleSpec("datasets", None)
    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    return calls


def class_label(*names: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(names=list(names), dtype="int64")


GLUE_MRPC = FakeDataset({"sentence1": ["A cat sat.", "It rained.", "He left early."],
                         "sentence2": ["A cat was sitting.", "The sun shone.", "He went home early."],
                         "label": [1, 0, 1], "idx": [10, 11, 12]},
                        {"label": class_label("not_equivalent", "equivalent")})


def test_hf_eval_keeps_the_paraphrase_pairs_and_is_cached(monkeypatch, cache_root):
    calls = fake_datasets(monkeypatch, GLUE_MRPC)
    path = resolve("hf:nyu-mll/glue:mrpc:validation", "eval")
    assert calls == [("nyu-mll/glue", "mrpc", "validation")] and path.is_relative_to(cache_root)
    s = load_eval_set("hf:nyu-mll/glue:mrpc:validation")
    assert (s.name, s.task, s.srcs, s.refs) == ("hf:nyu-mll/glue:mrpc:validation", "paraphrase",
                                                ["A cat sat.", "He left early."],
                                                [["A cat was sitting."], ["He went home early."]])
    assert len(calls) == 1  # the second read came from the cache
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["id"] == "10"


def test_hf_labelled_paraphrase_and_nli_layouts(monkeypatch, cache_root):
    fake_datasets(monkeypatch, GLUE_MRPC)
    mrpc = read_labelled("hf:nyu-mll/glue:mrpc:validation")
    assert (mrpc.format, mrpc.ids, mrpc.labels.tolist()) == ("mrpc", ["10", "11", "12"], [1, 0, 1])
    assert mrpc.path.is_file() and mrpc.path.is_relative_to(cache_root)
    sick = FakeDataset({"sentence_A": ["A dog runs.", "A man sings.", "Kids play."],
                        "sentence_B": ["An animal runs.", "Nobody sings.", "Kids play outside."],
                        "label": [0, 2, -1], "pair_ID": ["1", "2", "3"]},
                       {"label": class_label("entailment", "neutral", "contradiction")})
    fake_datasets(monkeypatch, sick)
    pairs = read_labelled("hf:sick")
    assert (pairs.format, pairs.ids, pairs.a, pairs.labels.tolist()) == ("sick", ["1", "2"], ["A dog runs.",
                                                                                              "A man sings."], [0, 2])
    first = json.loads(pairs.path.read_text(encoding="utf-8").splitlines()[0])
    assert first == {"id": "1", "premise": "A dog runs.", "hypothesis": "An animal runs.", "label": "entailment"}
    mnli = FakeDataset({"premise": ["p"], "hypothesis": ["h"], "label": ["Neutral"]})
    fake_datasets(monkeypatch, mnli)
    assert read_labelled("hf:multi_nli::validation_matched").labels.tolist() == [1]


def test_hf_unknown_columns_and_bad_specs_say_what_is_expected(monkeypatch, cache_root):
    fake_datasets(monkeypatch, FakeDataset({"question": ["q"], "answer": ["a"]}))
    with pytest.raises(MalformedInputError, match=r"hf:squad: cannot read its columns \(question, answer\) as a "
                                                  r"labelled-pairs set; expected one of: a\+b\+label; .*premise"):
        read_labelled("hf:squad")
    with pytest.raises(MalformedInputError, match=r"as an evaluation set; expected one of: src\+refs"):
        resolve("hf:squad", "eval")
    with pytest.raises(ImpdistError, match=r"hf:REPO\[:CONFIG\[:SPLIT\]\]"):
        resolve("hf:a:b:c:d", "eval")
    fake_datasets(monkeypatch, {"train": GLUE_MRPC, "validation": GLUE_MRPC})  # no split named: a DatasetDict
    with pytest.raises(ImpdistError, match=r"hf:nyu-mll/glue:mrpc: has splits train, validation; name one, "
                                           r"e\.g\. hf:nyu-mll/glue:mrpc:train"):
        resolve("hf:nyu-mll/glue:mrpc", "eval")
    assert not list(cache_root.rglob("*.jsonl"))  # failed conversions leave nothing behind


def test_hf_offline_is_one_line_naming_the_spec_and_the_alternative(monkeypatch, cache_root):
    fake_datasets(monkeypatch, ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (LocalEntryNotFoundError)"))
    with pytest.raises(ImpdistError) as e:
        read_labelled("hf:nyu-mll/glue:mrpc:validation")
    message = str(e.value)
    assert "\n" not in message and message.startswith("hf:nyu-mll/glue:mrpc:validation: cannot load it from the "
                                                      "Hugging Face Hub (ConnectionError: Couldn't reach")
    assert message.endswith("offline pass a JSONL file or a named labelled-pairs set (mrpc-dev-labelled, mrpc-judge, sts-dev, "
                            "sick-nli-dev) instead")


def test_hf_without_datasets_names_the_extra(monkeypatch, cache_root):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets fails, find_spec says absent
    with pytest.raises(MissingExtraError, match=r"reading hf:nyu-mll/glue:mrpc needs datasets.*impdist\[hub\]"):
        resolve("hf:nyu-mll/glue:mrpc", "labelled")


# --- the data is the repository's own -------------------------------------------------------------

def test_no_file_in_the_repository_reads_data_from_beside_it():
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                                capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    allowed = {"README.md", "Makefile", "impdist/data/PROVENANCE.md"}  # the first two are fixed elsewhere
    needles = (b"../" + b"shared", b"shared" + b"/data")  # split so this file does not match itself
    offenders = []
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if name in allowed or not path.is_file():
            continue
        text = path.read_bytes()
        offenders += [f"{name}: {n.decode()}" for n in needles if n in text]
    assert not offenders, offenders
