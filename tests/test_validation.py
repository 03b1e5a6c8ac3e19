"""Validation at the door (issue 22, part 1): every option and config field has a domain
(impdist.domains), NaN and infinities are refused everywhere, a refused flag is one line naming it
and its range (exit 2) before any model loads or any folder is made, and a config file or an API
call gets the same check."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impdist import domains
from impdist.cli import _InDomain, cli
from impdist.domains import INT_MAX, POSITIVE_INT, SEED, THREADS, UNIT, Domain, check_fields
from impdist.errors import ImpdistError, InvalidValueError
from tests.test_bad_input import env, impdist, refused, root, tree, write  # noqa: F401 (fixtures)

NON_FINITE = ("nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999")


# --- the domain objects -------------------------------------------------------------------------

NAMED = {name: d for name, d in vars(domains).items() if isinstance(d, Domain)}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_every_domain_refuses_nan_infinities_bools_and_strings(name):
    d = NAMED[name]
    for word in NON_FINITE:
        with pytest.raises(InvalidValueError, match="must be"):
            d.parse(word)
        assert not d.contains(float(word))
    assert not d.contains(True) and not d.contains("1") and not d.contains(None)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(NAMED)), st.one_of(st.integers(-2**40, 2**40), st.floats(-1e6, 1e6)))
def test_contains_agrees_with_the_description(name, value):
    """An independent reading of each domain's bounds: what contains() says is what the words say."""
    d = NAMED[name]
    if d.kind is int and isinstance(value, float):
        assert not d.contains(value)
        return
    inside = ((d.low is None or (value > d.low if d.low_open else value >= d.low))
              and (d.high is None or (value < d.high if d.high_open else value <= d.high)))
    assert d.contains(value) == inside
    if inside:
        assert d.check(value, "x") == value
    else:
        with pytest.raises(InvalidValueError, match=r"^x must be .*, got "):
            d.check(value, "x")


def test_descriptions_name_the_range():
    assert POSITIVE_INT.describe() == "a positive integer"
    assert SEED.describe() == "an integer from 0 to 4294967295"
    assert UNIT.describe() == "a number in (0, 1]"
    assert THREADS.describe() == "an integer from 1 to 4096 (unset: all cores)"
    assert domains.POSITIVE.describe() == "a finite number > 0"
    assert domains.FRACTION.describe() == "a number in [0, 1)"
    with pytest.raises(InvalidValueError, match=f"a positive integer and at most {INT_MAX}, got 2147483648"):
        POSITIVE_INT.check(INT_MAX + 1, "cap")
    assert POSITIVE_INT.parse(" 7 ") == 7
    with pytest.raises(InvalidValueError, match="got '1.5'"):
        POSITIVE_INT.parse("1.5")
    assert domains.POSITIVE.check(2, "lr") == 2.0 and isinstance(domains.POSITIVE.check(2, "lr"), float)
    assert UNIT.check(None, "t", optional=True) is None
    with pytest.raises(InvalidValueError, match="or None"):
        UNIT.check(0, "t", optional=True)


# --- every option and every config field has a domain -------------------------------------------

def _commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_numeric_option_has_a_domain():
    """No option takes a bare int or float: a new one must name its domain (cli._setting)."""
    bare = [f"{' '.join(path)} {p.opts[0]}" for path, command in _commands() for p in command.params
            if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType, click.types._NumberRangeBase))]
    assert not bare, f"options without a domain: {bare}"
    assert sum(isinstance(p.type, _InDomain) for _, c in _commands() for p in c.params) >= 60


def _config_classes() -> list[type]:
    from impdist.decoding.sampling import SamplingConfig
    from impdist.filters.chain import FilterConfig
    from impdist.filters.pipeline import DatasetConfig, ScoredConfig
    from impdist.generate.stages import CandidatesConfig, NewsContextsConfig, TeacherSpec
    from impdist.judges.train import JudgeTrainConfig
    from impdist.run_config import RewriteSampling, RunConfig
    from impdist.student.rewrites import RewritesConfig, Sampling
    from impdist.student.train import TrainConfig

    return [SamplingConfig, FilterConfig, DatasetConfig, ScoredConfig, CandidatesConfig, NewsContextsConfig,
            TeacherSpec, JudgeTrainConfig, RewriteSampling, RunConfig, RewritesConfig, Sampling, TrainConfig]


def test_every_numeric_config_field_has_a_domain():
    """Every int or float field of the configs is declared with domains.setting(), except the
    sampling config's (checked in its __post_init__, where greedy decoding needs no temperature)."""
    from impdist.decoding.sampling import SamplingConfig

    bare = [f"{cls.__name__}.{f.name}" for cls in _config_classes() if cls is not SamplingConfig
            for f in dataclasses.fields(cls)
            if str(f.type).split(" |")[0] in ("int", "float") and domains.domain_of(f) is None
            and f.name != "scores"]  # ScoredConfig.scores: a constant of the code, not a setting
    assert not bare, f"config fields without a domain: {bare}"


@pytest.mark.parametrize("make, part", [
    (lambda: __import__("impdist.filters.chain", fromlist=["x"]).FilterConfig(judge_threshold=math.nan),
     "FilterConfig.judge_threshold must be a number in [-1, 1] or None, got nan"),
    (lambda: __import__("impdist.filters.chain", fromlist=["x"]).FilterConfig(near_duplicate=math.inf),
     "FilterConfig.near_duplicate must be a number in (0, 1] or None, got inf"),
    (lambda: __import__("impdist.student.train", fromlist=["x"]).TrainConfig(lr=math.inf),
     "TrainConfig.lr must be a finite number > 0, got inf"),
    (lambda: __import__("impdist.student.train", fromlist=["x"]).TrainConfig(code_dropout=1.5),
     "TrainConfig.code_dropout must be a number in [0, 1], got 1.5"),
    (lambda: __import__("impdist.student.rewrites", fromlist=["x"]).Sampling(top_p=0.0),
     "Sampling.top_p must be a number in (0, 1], got 0.0"),
    (lambda: __import__("impdist.student.codes", fromlist=["x"]).EvalControls(compression="nan"),
     "compression must be a finite number > 0 or None, got nan"),
    (lambda: __import__("impdist.student.codes", fromlist=["x"]).EvalControls(diversity=-5),
     "diversity must be a number in [0, 1] or None, got -5"),
    (lambda: __import__("impdist.generate.stages", fromlist=["x"]).TeacherSpec("m", threads=0),
     "TeacherSpec.threads must be an integer from 1 to 4096 (unset: all cores) or None, got 0"),
    (lambda: __import__("impdist.judges.train", fromlist=["x"]).JudgeTrainConfig("nli", 1.0, 8, 1e-4, 64, 1.0, 0),
     "JudgeTrainConfig.holdout must be a number in (0, 1), got 1.0"),
    (lambda: __import__("impdist.decoding.sampling", fromlist=["x"]).SamplingConfig(temperature=math.nan),
     "temperature must be a finite number > 0, got nan"),
])
def test_configs_refuse_values_outside_their_domains(make, part):
    with pytest.raises(InvalidValueError) as err:
        make()
    assert part in str(err.value)


def test_scored_config_refuses_a_zero_cap_and_a_negative_seed():
    from impdist.filters.chain import FilterConfig
    from impdist.filters.pipeline import DatasetConfig, ScoredConfig

    with pytest.raises(InvalidValueError, match="ScoredConfig.cap must be a positive integer or None, got 0"):
        ScoredConfig("paraphrase", "embedding", 0, "group", 0, None, "minilm-l6")
    with pytest.raises(InvalidValueError, match="ScoredConfig.seed"):
        ScoredConfig("paraphrase", "embedding", None, "group", -1, None, "minilm-l6")
    with pytest.raises(InvalidValueError, match="DatasetConfig.judge_threshold must be a number in"):
        DatasetConfig(FilterConfig(), "embedding", math.nan)


def test_fingerprints_of_default_configs_are_unchanged():
    """Declaring domains changed no stored form: an int given to a float field is stored as the float."""
    from impdist.filters.chain import FilterConfig
    from impdist.student.train import TrainConfig

    assert str(FilterConfig(min_len_ratio=1, max_len_ratio=1.5)) == str(FilterConfig(min_len_ratio=1.0))
    assert TrainConfig(epochs=3).to_json() == TrainConfig().to_json()


def test_the_api_refuses_before_any_folder_is_made(tmp_path):
    from impdist.filters.pipeline import filter_dataset
    from impdist.generate.pipeline import generate

    cands = write(tmp_path / "c.jsonl", '{"context_id": "c1", "y_orig": "A b c.", "candidates": ["C b a."]}\n')
    for kwargs, part in [({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
                         ({"threads": 0}, "threads must be an integer from 1 to 4096"),
                         ({"cap": 0}, "cap must be a positive integer or None, got 0"),
                         ({"seed": -1}, "seed must be an integer from 0 to 4294967295, got -1")]:
        with pytest.raises(InvalidValueError, match=part.replace("(", r"\(")):
            filter_dataset(cands, tmp_path / "out", **kwargs)
    for kwargs, part in [({"samples": 0}, "samples must be a positive integer"),
                         ({"seed": 2**40}, "seed must be an integer from 0"),
                         ({"threads": -1}, "threads must be")]:
        with pytest.raises(InvalidValueError, match=part):
            generate("no-such-model", contexts=cands, out=tmp_path / "out", **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]


# --- the cases through the command line ---------------------------------------------------

@pytest.fixture
def scored_run(env) -> Path:
    """A run folder holding a candidates stage and a finished scored stage: what --cap 0 or a NaN
    threshold must leave as it was."""
    from impdist.io import open_stage
    from impdist.io.executors import run_shards

    row = {"context_id": "c1", "y_orig": "A b c.", "candidates": ["C b a."]}
    for name in ("candidates", "scored"):
        stage = open_stage(env / "run", name, {"x": 1}, inputs={})
        run_shards(stage, [("000000", [row])], lambda rows: rows, quiet=True)
        stage.complete()
    return env / "run"


@pytest.mark.parametrize("args, part", [
    (("--threshold", "nan"), "Invalid value for '--threshold': must be a number in [-1, 1], got 'nan'"),
    (("--threshold", "inf"), "Invalid value for '--threshold': must be a number in [-1, 1], got 'inf'"),
    (("--cap", "0"), "Invalid value for '--cap': must be a positive integer, got '0'"),
    (("--batch-size", "0"), "Invalid value for '--batch-size': must be a positive integer, got '0'"),
    (("--batch-size", "0", "--rethreshold"), "Invalid value for '--batch-size'"),
    (("--threads", "0"), "Invalid value for '--threads': must be an integer from 1 to 4096 (unset: all cores)"),
    (("--near-duplicate", "nan"), "Invalid value for '--near-duplicate': must be a number in (0, 1] or 'off'"),
    (("--max-len-ratio", "inf"), "Invalid value for '--max-len-ratio': must be a finite number > 0, got 'inf'"),
    (("--workers", "0"), "Invalid value for '--workers': must be a positive integer"),
    (("--seed", "-1"), "Invalid value for '--seed': must be an integer from 0 to 4294967295, got '-1'"),
])
def test_filter_refuses_bad_flags_and_leaves_a_scored_run_as_it_was(impdist, scored_run, args, part):
    before = tree(scored_run)
    refused(impdist("filter", "--in", scored_run, *args), part, "(see 'impdist filter --help')", usage=True)
    assert tree(scored_run) == before


def test_calibrate_refuses_a_nan_threshold(impdist, env):
    data = write(env / "mrpc.jsonl", '{"id": "1", "a": "x y", "b": "y x", "label": 1}\n'
                                     '{"id": "2", "a": "x z", "b": "w v", "label": 0}\n')
    refused(impdist("judge", "calibrate", "--judge", "embedding", "--data", data, "--threshold", "nan"),
            "Invalid value for '--threshold': must be a number in [-1, 1], got 'nan'", usage=True)


@pytest.mark.parametrize("label, held", [(1, "only equivalent pairs (3)"), (0, "only non-equivalent pairs (3)")])
def test_calibration_data_of_one_class_is_named(impdist, env, label, held):
    data = write(env / "one.jsonl", "".join(json.dumps({"id": str(i), "a": f"x {i}", "b": f"y {i}", "label": label})
                                            + "\n" for i in range(3)))
    refused(impdist("judge", "calibrate", "--judge", "embedding", "--data", data),
            f"{data}: holds {held}; a judge is trained and calibrated on pairs of both classes")
    refused(impdist("judge", "train", "--data", data, "--labels", "paraphrase", "--out", env / "j", "--base", "x"),
            f"{data}: holds {held}")
    assert not (env / "j").exists()


def test_calibrate_api_names_a_split_of_one_class():
    from impdist.judges.calibrate import check_two_classes
    from impdist.judges.labelled import LabelledPairs
    import numpy as np

    pairs = LabelledPairs(Path("m.jsonl"), "mrpc", ["1"], ["a"], ["b"], np.array([1]), ("n", "p"), 1, False)
    with pytest.raises(ImpdistError, match=r"m.jsonl \(heldout split\): holds only equivalent pairs \(1\).*--split all"):
        check_two_classes(pairs, "m.jsonl (heldout split)", "; or calibrate on --split all")


@pytest.mark.parametrize("command", ["paraphrase", "summarize"])
@pytest.mark.parametrize("args, part", [
    (("--compression", "nan"), "Invalid value for '--compression': must be a finite number > 0 or a code label, got 'nan'"),
    (("--compression", "-inf"), "Invalid value for '--compression'"),
    (("--diversity", "-5"), "Invalid value for '--diversity': must be a number in [0, 1] or a code label, got '-5'"),
    (("--threads", "0"), "Invalid value for '--threads'"),
    (("--n", "0"), "Invalid value for '--n': must be a positive integer"),
    (("--top-p", "1.5"), "Invalid value for '--top-p': must be a number in (0, 1], got '1.5'"),
    (("--temperature", "nan"), "Invalid value for '--temperature'"),
])
def test_rewrite_flags_are_refused_before_the_student_loads(impdist, env, command, args, part):
    """--model names no student: the flag, checked first, is what the error names."""
    refused(impdist(command, "--model", env / "no-student", "--input", write(env / "in.txt", "a b\n"), *args),
            part, usage=True)


@pytest.mark.parametrize("args, part", [
    (("--limit", "0"), "Invalid value for '--limit': must be a positive integer, got '0'"),
    (("--limit", "-5"), "Invalid value for '--limit': must be a positive integer, got '-5'"),
    (("--compression", "nan"), "Invalid value for '--compression'"),
    (("--diversity", "-5"), "Invalid value for '--diversity'"),
    (("--threads", "0"), "Invalid value for '--threads'"),
])
def test_evaluate_names_the_flag_not_the_data(impdist, env, args, part):
    text = refused(impdist("evaluate", "--data", "mrpc-dev", "--baselines", "copy", *args), part, usage=True)
    assert "mrpc" not in text


@pytest.mark.parametrize("args, part", [
    (("run", "--train-minutes", "nan"), "Invalid value for '--train-minutes': must be a finite number > 0, got 'nan'"),
    (("run", "--show", "-1"), "Invalid value for '--show': must be an integer >= 0"),
    (("generate", "--contexts", "0"), "Invalid value for '--contexts': must be a positive integer (a count of contexts)"),
    (("generate", "--samples", "0"), "Invalid value for '--samples'"),
    (("train", "--data", "x", "--out", "y", "--lr", "nan"), "Invalid value for '--lr': must be a finite number > 0"),
    (("train", "--data", "x", "--out", "y", "--max-length", "8"), "Invalid value for '--max-length': must be an integer >= 16"),
    (("distill", "--data", "x", "--out", "y", "--rounds", "0"), "Invalid value for '--rounds'"),
    (("judge", "train", "--data", "x", "--labels", "nli", "--out", "y", "--holdout", "1"),
     "Invalid value for '--holdout': must be a number in (0, 1), got '1'"),
    (("export", "--model", "x", "--out", "y", "--threads", "-2"), "Invalid value for '--threads'"),
])
def test_other_commands_refuse_bad_flags(impdist, env, args, part):
    refused(impdist(*args), part, usage=True)
    assert sorted(p.name for p in env.iterdir()) == []  # nothing made


def test_threads_help_says_what_unset_means():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["filter", "--help"])
    assert "an integer from 1 to 4096 (unset: all cores)" in " ".join(result.output.split())


def test_a_run_config_with_nan_is_refused_naming_file_and_key(impdist, env):
    config = write(env / "run.json", '{"student": {"lr": NaN}, "samples": 2}')  # JSON.parse takes NaN
    refused(impdist("run", "--config", config, "--out", env / "out"),
            f"{config}.student: TrainConfig.lr must be a finite number > 0, got nan")
    config = write(env / "run.json", '{"filters": {"paraphrase": {"judge_threshold": Infinity}}}')
    refused(impdist("run", "--config", config, "--out", env / "out"),
            f"{config}.filters.paraphrase: FilterConfig.judge_threshold must be a number in [-1, 1] or None, got inf")
    assert sorted(p.name for p in env.iterdir()) == ["run.json"]


def test_check_fields_names_the_class_and_field():
    @dataclasses.dataclass(frozen=True)
    class C:
        n: int = domains.setting(POSITIVE_INT, 1)
        p: float | None = domains.setting(UNIT, None, optional=True)

        def __post_init__(self) -> None:
            check_fields(self)

    assert C(2, 1).p == 1.0 and isinstance(C(2, 1).p, float)
    with pytest.raises(InvalidValueError, match=r"^C.n must be a positive integer, got 0$"):
        C(0)
    with pytest.raises(InvalidValueError, match=r"^C.p must be a number in \(0, 1\] or None, got nan$"):
        C(1, math.nan)
