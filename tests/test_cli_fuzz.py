"""A fuzz harness for the command line (issue 22, part 5): hypothesis drives every command through
impdist.cli.main, in this process, with generated bad values for each option (read from the
options themselves: their domains and choices) and generated malformed input files, and demands
a clean refusal each time: exit 2 for a flag (1 for a file), one line on stderr, no traceback,
nothing on stdout, and the working folder (a finished run in it) exactly as it was.

Every generated case is bad by construction, never by asking impdist: a case that slipped
through would run the command for real and fail the test. The budget is IMPDIST_FUZZ_EXAMPLES
examples per test (a few dozen by default; `make fuzz` sets thousands and IMPDIST_FUZZ_RANDOM=1
for new examples each run instead of the fixed derandomized ones).
"""
from __future__ import annotations

import io
import json
import os
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impdist.cli import _InDomain, main
from impdist.domains import Domain
from tests.test_validation import _commands  # every command of the CLI, with its path
from tests.test_bad_input import Result, llama, pairs, refused, root, trained, tree, write  # noqa: F401 (fixtures)

BUDGET = int(os.environ.get("IMPDIST_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=BUDGET, deadline=None, database=None,
                derandomize=os.environ.get("IMPDIST_FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CASES: dict[str, int] = {}  # test -> cases run, printed at the end (make fuzz runs pytest -s)

PAIR = {"src": "The council voted on the budget.", "tgt": "The budget was voted on by the council."}
GROUP = {"context_id": "c1", "y_orig": "The council voted on the budget.",
         "candidates": ["The budget was put to a vote.", "Council members voted."]}
EVAL = {"src": "The council voted on the budget.", "refs": ["The budget was voted on."]}
LABELLED = [{"id": "1", "a": "The council voted.", "b": "The council held a vote.", "label": 1},
            {"id": "2", "a": "Rain fell.", "b": "Shares rose.", "label": 0}]
DOC = {"text": "The council met on Tuesday. It voted on the budget. The mayor spoke."}


# --- the workspace: inputs beside a working folder that holds a finished run -----------------------

@pytest.fixture(scope="module")
def ws(root, llama) -> Path:
    """root/work (the cwd of every case; must never change) with out/ a finished candidates stage,
    and root/inputs with a valid file of each kind the commands take."""
    from impdist.io import open_stage
    from impdist.io.executors import run_shards

    work, inputs = root / "work", root / "inputs"
    inputs.mkdir()
    stage = open_stage(work / "out", "candidates", {"fuzz": 1}, inputs={})
    run_shards(stage, [("000000", [GROUP])], lambda rows: rows, quiet=True)
    stage.complete()
    write(inputs / "pairs.jsonl", json.dumps(PAIR) + "\n")
    write(inputs / "labelled.jsonl", "".join(json.dumps(r) + "\n" for r in LABELLED))
    write(inputs / "eval.jsonl", json.dumps(EVAL) + "\n")
    write(inputs / "in.txt", "The council voted on the budget.\n")
    return root


def run(ws: Path, args: list[str]) -> Result:
    """`impdist ARGS` through main() in ws/work; an escaping exception is returned as a traceback."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv, sys.stdin, os.getcwd()
    sys.argv, sys.stdin = ["impdist", *map(str, args)], io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    os.chdir(ws / "work")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:  # what the user would see as a traceback
                code = -1
                err.write(traceback.format_exc())
    finally:
        sys.argv, sys.stdin = saved[0], saved[1]
        os.chdir(saved[2])
    return Result(code, out.getvalue(), err.getvalue())


def check_case(ws: Path, test: str, args: list[str], *parts: str, usage: bool) -> None:
    """One case: a clean one-line refusal naming `parts`, stdout empty, ws/work unchanged."""
    before = tree(ws / "work")
    result = run(ws, args)
    refused(result, *parts, usage=usage)
    assert result.err.count("\n") == 1 and result.err.endswith("\n"), result.err  # one line
    assert result.out == "", result.out
    assert tree(ws / "work") == before, f"impdist {' '.join(map(str, args))} changed the working folder"
    CASES[test] = CASES.get(test, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    yield
    if CASES:
        print(f"\nfuzz: {sum(CASES.values())} generated cases ({', '.join(f'{k} {v}' for k, v in CASES.items())})")


# --- 1. every option with a domain or a choice, given a value outside it --------------------------

def _required(path: tuple[str, ...], ws: Path) -> list[str]:
    """Valid values of a command's required options, so that the fuzzed flag is what fails."""
    i = ws / "inputs"
    return {
        ("judge", "train"): ["--data", i / "labelled.jsonl", "--labels", "paraphrase", "--out", "out/judge"],
        ("judge", "calibrate"): ["--judge", "embedding", "--data", i / "labelled.jsonl"],
        ("train",): ["--data", i / "pairs.jsonl", "--out", "out/student"],
        ("distill",): ["--data", i / "pairs.jsonl", "--out", "out/distill"],
        ("export",): ["--model", "out/student", "--out", "out/export"],
        ("paraphrase",): ["--model", "out/student", "--input", i / "in.txt"],
        ("summarize",): ["--model", "out/student", "--input", i / "in.txt"],
        ("evaluate",): ["--data", i / "eval.jsonl", "--baselines", "copy"],
        ("serve",): [i],
        ("push",): [i, "user/repo"],
    }.get(path, [])


# Every option with a domain or a choice, and --contexts (a count or a file); plus, for every
# command, an option it does not have (None).
OPTIONS = [(path, p) for path, command in _commands() for p in command.params
           if isinstance(p.type, (_InDomain, click.Choice)) or p.name == "contexts"]
OPTIONS += [(path, None) for path, _ in _commands()]
NON_FINITE = ("nan", "NaN", "-nan", "inf", "+inf", "-inf", "Infinity", "-Infinity", "1e999", "-1e999")
WORDS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def _inside(d: Domain, x: float) -> bool:
    """The domain's bounds read independently of Domain.contains."""
    return ((d.low is None or (x > d.low if d.low_open else x >= d.low))
            and (d.high is None or (x < d.high if d.high_open else x <= d.high)))


def _is_number(word: str) -> bool:
    try:
        float(word)
        return True
    except ValueError:
        return False


def bad_values(param: click.Parameter, cwd: Path) -> st.SearchStrategy[str]:
    """Words the option must refuse (when the command runs in cwd)."""
    if isinstance(param.type, click.Choice):
        fold = (lambda w: w) if param.type.case_sensitive else str.casefold
        return WORDS.filter(lambda w: fold(w) not in {fold(c) for c in param.type.choices})
    if param.name == "contexts":  # a count >= 1 or an existing file: 0, or a path that is not there
        return st.one_of(st.sampled_from(["0", "00", " 0 "]), st.just("no-such-corpus.txt"),
                         WORDS.filter(lambda w: not (w.strip().isdigit() and _positive_int(w)) and not (
                             w.strip() and (cwd / w).exists())))
    t: _InDomain = param.type
    d = t.domain
    outside = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12).filter(
        lambda x: not _inside(d, x))
    choices = [st.sampled_from(NON_FINITE), outside.map(repr)]
    if d.kind is int:
        choices += [st.integers(-2**70, 2**70).filter(lambda n: not _inside(d, n)).map(str),
                    st.floats(-1e6, 1e6).filter(lambda x: not x.is_integer()).map(repr)]
        if not t.labels:
            choices.append(WORDS.filter(lambda w: not _int_word(w)))
    elif not t.labels:  # a word that is no number (with `labels` it would be a code label)
        choices.append(WORDS.filter(lambda w: not _is_number(w) and not (
            t.off and w.strip().lower() in ("off", "none", "no"))))
    return st.one_of(choices)


def _positive_int(word: str) -> bool:
    try:
        return int(word.strip()) > 0
    except ValueError:
        return False


def _int_word(word: str) -> bool:
    try:
        int(word.strip(), 10)
        return True
    except ValueError:
        return False


def test_the_harness_reaches_every_numeric_option():
    """cli._setting options are all fuzzed (a new one joins by itself), 60 and more of them."""
    fuzzed = {(path, p.name) for path, p in OPTIONS if p is not None}
    declared = {(path, p.name) for path, c in _commands() for p in c.params if isinstance(p.type, _InDomain)}
    assert declared <= fuzzed and len(declared) >= 60


@FUZZ
@given(data=st.data())
def test_bad_option_values_are_refused_at_the_door(ws, data):
    path, param = data.draw(st.sampled_from(OPTIONS), label="option")
    if param is None:
        flag = "--" + data.draw(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10).filter(
            lambda w: not any(o.startswith("--" + w) for p in dict(_commands())[path].params for o in p.opts)
            and w not in ("h", "help")), label="unknown option")
        args, part = [*path, *_required(path, ws), flag, "1"], f"No such option '{flag}'"
    else:
        flag = param.opts[0]
        value = data.draw(bad_values(param, ws / "work"), label="value")
        args, part = [*path, *_required(path, ws), flag, value], f"Invalid value for '{flag}'"
    check_case(ws, "options", args, part, usage=True)


# --- 2. malformed input files --------------------------------------------------------------------

def _wrong(value) -> st.SearchStrategy:
    """A JSON value of another type than value's (never a bool for an int: JSON's true is no count)."""
    others = {str: st.one_of(st.integers(), st.none(), st.lists(st.integers(), max_size=2), st.booleans()),
              int: st.one_of(st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2),
                             st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())),
              list: st.one_of(st.integers(), st.none(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                              st.lists(st.integers(), min_size=1, max_size=2))}
    return others[type(value)]


def _wrong_record(record: dict, also: dict[str, type] | None = None) -> st.SearchStrategy[dict]:
    """The record with one required field missing or of a wrong type (`also`: a field's other
    accepted type, e.g. an int id)."""
    also = also or {}

    def change(key: str) -> st.SearchStrategy[dict]:
        gone = st.just({k: v for k, v in record.items() if k != key})
        wrong = _wrong(record[key]).filter(
            lambda v: key not in also or isinstance(v, bool) or not isinstance(v, also[key]))
        return st.one_of(gone, wrong.map(lambda v: {**record, key: v}))
    return st.sampled_from(sorted(record)).flatmap(change)


def _lines_with(bad_line: st.SearchStrategy[str], good: dict, before: int = 3) -> st.SearchStrategy[bytes]:
    """The bad line with up to `before` valid lines before it and up to 3 after."""
    return st.tuples(st.integers(0, before), st.integers(0, 3), bad_line).map(
        lambda t: ("".join(json.dumps(good) + "\n" for _ in range(t[0])) + t[2] + "\n"
                   + "".join(json.dumps(good) + "\n" for _ in range(t[1]))).encode())


def _truncated(record: dict) -> st.SearchStrategy[str]:
    """A proper prefix of the record's JSON: never valid JSON (an object ends with its '}')."""
    text = json.dumps(record)
    return st.integers(1, len(text) - 1).map(lambda k: text[:k])


def _junk(good: dict, before: int = 2) -> st.SearchStrategy[bytes]:
    """Bytes with an invalid UTF-8 byte (0xff never occurs in UTF-8) after up to `before` valid
    lines (and, with before > 0, other random bytes)."""
    head = st.binary(max_size=40) if before else st.just(b"")
    return st.tuples(head, st.binary(max_size=40), st.integers(0, before)).map(
        lambda t: (json.dumps(good) + "\n").encode() * t[2] + t[0] + b"\xff" + t[1])


def malformed_jsonl(good: dict, *, empty: bool = True, before: int = 3,
                    also: dict[str, type] | None = None) -> st.SearchStrategy[bytes]:
    """A JSONL file that no reader of `good`-like records may accept (an empty one too, unless the
    reader takes an empty input as no work), its bad line after up to `before` good ones."""
    non_object = st.one_of(st.integers(), st.lists(st.integers(), max_size=3), st.text(max_size=8), st.none(),
                           st.booleans()).map(json.dumps)
    kinds = [_lines_with(_truncated(good), good, before), _lines_with(non_object, good, before),
             _junk(good, min(before, 2)), _lines_with(_wrong_record(good, also).map(json.dumps), good, before)]
    if empty:
        kinds.append(st.sampled_from([b"", b"\n", b"  \n\n", b"\r\n"]))
    return st.one_of(kinds)


def malformed_config() -> st.SearchStrategy[bytes]:
    """A run config `impdist run --config` must refuse: unparsable, not an object, an unknown key, a
    known key of a wrong type, a count or rate outside its domain."""
    from impdist.run_config import RunConfig

    good = {"samples": 2, "contexts": 4}
    unknown = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8).filter(
        lambda k: k not in {f for f in RunConfig.__dataclass_fields__})
    bad_number = st.sampled_from(["NaN", "Infinity", "-Infinity", "0", "-1", "1.5", "\"3\"", "true", "null", "[]"])
    count = st.sampled_from(["samples", "contexts", "generate_batch_size", "pair_cap", "decode_batch",
                             "train_eval_every"])
    positive = st.sampled_from(["NaN", "Infinity", "-Infinity", "0", "-2", "\"x\"", "[]"])  # not a finite number > 0
    unit = st.sampled_from(["NaN", "Infinity", "0", "-0.5", "1.5", "\"x\""])  # not in (0, 1]
    return st.one_of(
        st.sampled_from([b"", b"{", b"[1, 2]", b"null", b"\"run\"", b"\xff\xfe{}"]),
        _truncated(good).map(str.encode),
        unknown.map(lambda k: json.dumps({k: 1}).encode()),
        st.tuples(count, bad_number).map(lambda t: f'{{"{t[0]}": {t[1]}}}'.encode()),
        positive.map(lambda v: f'{{"student": {{"lr": {v}}}}}'.encode()),
        positive.map(lambda v: f'{{"train_minutes": {v}}}'.encode()),
        unit.map(lambda v: f'{{"filters": {{"paraphrase": {{"max_rouge_l": {v}}}}}}}'.encode()),
        unit.map(lambda v: f'{{"rewrites": {{"summary": {{"top_p": {v}}}}}}}'.encode()),
    )


def _file_cases(ws: Path, student: Path) -> list[tuple[str, st.SearchStrategy[bytes], list[str]]]:
    """(suffix, malformed contents, the command with FILE where the file goes)."""
    llama_dir = ws / "llama"
    rewrite = ["--model", student, "--backend", "torch", "--input", "FILE", "--output", "out/rewrites.jsonl"]
    return [
        (".jsonl", malformed_jsonl(PAIR), ["train", "--data", "FILE", "--out", "out/student", "--base", llama_dir]),
        (".jsonl", malformed_jsonl(PAIR), ["distill", "--data", "FILE", "--out", "out/distill", "--base", llama_dir]),
        (".jsonl", malformed_jsonl(GROUP, also={"context_id": int}), ["filter", "--in", "FILE", "--out", "out"]),
        (".jsonl", malformed_jsonl(EVAL), ["evaluate", "--data", "FILE", "--baselines", "copy"]),
        (".jsonl", malformed_jsonl(LABELLED[0], also={"id": int}),
         ["judge", "calibrate", "--judge", "embedding", "--data", "FILE"]),
        (".jsonl", malformed_jsonl(LABELLED[0], also={"id": int}),
         ["judge", "train", "--data", "FILE", "--labels", "paraphrase", "--out", "out/judge", "--base", llama_dir]),
        (".jsonl", malformed_jsonl(DOC), ["generate", "--contexts", "FILE", "--model", llama_dir, "--backend", "torch",
                                          "--out", "out"]),
        (".json", malformed_config(), ["run", "--config", "FILE", "--out", "out"]),
        # a text file is any lines: only bytes that are not UTF-8 are malformed. The rewriters
        # stream, so the bad line comes first (a good line before it would be decoded: seconds per
        # case); their output file must not appear (it is written only once every line is done).
        (".txt", _junk({"src": "x"}, before=0), ["paraphrase", *rewrite, "--format", "text"]),
        (".jsonl", malformed_jsonl({"src": "The council voted."}, empty=False, before=0),
         ["summarize", *rewrite, "--format", "jsonl"]),
    ]


@FUZZ
@given(data=st.data())
def test_malformed_input_files_are_refused(ws, trained, data):
    cases = _file_cases(ws, trained)
    suffix, contents, args = data.draw(st.sampled_from(cases), label="command")
    bad = write(ws / "inputs" / f"bad{suffix}", data.draw(contents, label="contents"))
    check_case(ws, "files", [str(bad) if a == "FILE" else a for a in args], str(bad), usage=False)
