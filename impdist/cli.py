"""The `impdist` command: a thin layer over the Python API (every command is an importable function)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from impdist._version import __version__
from impdist.decoding.runtime import BACKENDS, BATCH_BACKEND
from impdist.domains import (COMPRESSION, DIVERSITY, FRACTION, INNER_FRACTION, JUDGE_MAX_LENGTH, JUDGE_SCORE,
                             NON_NEGATIVE_INT, PORT, POSITIVE, POSITIVE_INT, SEED, STUDENT_MAX_LENGTH, THREADS,
                             UNIT, Domain)
from impdist.errors import ImpdistError, InvalidValueError
from impdist.extras import extra_for_module, install_hint, missing, require
from impdist.io import cache as artefact_cache
from impdist.io.locks import set_wait
from impdist.logs import LEVELS
from impdist.logs import configure as configure_logging
from impdist.models.embedded import DEFAULT_EMBEDDER, DEFAULT_TEACHER
from impdist.serving.config import Limits, ServeConfig
from impdist.tasks import TASKS


class _InDomain(click.ParamType):
    """A flag's value in an impdist.domains Domain, refused (exit 2) with the domain in words; with
    `off`, also 'off' (None); with `labels`, also a word that is no number (a code label the
    student checks once loaded)."""

    def __init__(self, domain: Domain, *, off: bool = False, labels: bool = False) -> None:
        self.domain, self.off, self.labels = domain, off, labels
        self.name = "integer" if domain.kind is int else "float"

    def describe(self, value: object = None) -> str:
        """The allowed values, for --help and for the error about `value`."""
        extra = " or 'off'" if self.off else " or a code label" if self.labels else ""
        return self.domain.allowed(value) + extra

    def convert(self, value, param, ctx):
        if value is None or (not isinstance(value, str) and self.domain.contains(value)):
            return value  # a default
        text = str(value).strip()
        if self.off and text.lower() in ("off", "none", "no"):
            return None
        try:
            return self.domain.parse(text)
        except InvalidValueError:
            number = _number(text)
            if self.labels and number is None:
                return text
            self.fail(f"must be {self.describe(number)}, got {text!r}", param, ctx)


def _number(text: str) -> float | None:
    """text as a number, or None where it is none."""
    try:
        return float(text)
    except ValueError:
        return None


class _Setting(click.Option):
    """An option whose --help shows its domain (as click shows an IntRange)."""

    def get_help_extra(self, ctx: click.Context):
        extra = super().get_help_extra(ctx)
        extra["range"] = self.type.describe()
        return extra


def _setting(*decls: str, domain: Domain, off: bool = False, labels: bool = False, **kwargs):
    """click.option for a value in `domain` (impdist.domains: the one place its range is declared)."""
    return click.option(*decls, type=_InDomain(domain, off=off, labels=labels), cls=_Setting, **kwargs)


def _contexts_arg(ctx: click.Context, param: click.Parameter, value: str) -> int | Path:
    """--contexts takes a count of news-prefix contexts or the path of a corpus file."""
    allowed = f"must be {POSITIVE_INT.describe()} (a count of contexts) or an existing corpus file, got {value!r}"
    if value.strip().isdigit():
        try:
            return POSITIVE_INT.parse(value)
        except InvalidValueError:
            raise click.BadParameter(allowed) from None
    if not value.strip() or not Path(value).exists():
        raise click.BadParameter(allowed)
    return Path(value)


def _executor_extra(executor: str) -> tuple[str, ...]:
    """The extra an executor needs beyond the command's own."""
    return ("ray",) if executor == "ray" else ()


def _no_wait_option(fn):
    """--no-wait: a command that finds a stage folder it writes being written by another impdist
    process stops at once (one line, exit 1) instead of waiting for it (impdist.io.locks)."""
    def choose(ctx: click.Context, param: click.Parameter, no_wait: bool) -> None:
        set_wait(not no_wait)
        ctx.call_on_close(lambda: set_wait(True))  # for this command only (a test may call several)

    return click.option("--no-wait", is_flag=True, expose_value=False, callback=choose,
                        help="If another impdist process is writing a stage folder this command writes, stop at "
                             "once instead of waiting for it to finish.")(fn)


def _executor_options(fn):
    """--executor and --ray-address: who runs the shards (impdist.io.executors.run_shards)."""
    fn = click.option("--ray-address", default=None,
                      help="With --executor ray: the cluster to join ('auto' after `ray start`, or HEAD_IP:6379); "
                           "default: start a local one with --workers CPUs.")(fn)
    return click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "ray"]),
                        help="local: a process pool; ray: Ray actors (pip install 'impdist[ray]').")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="impdist")
@click.option("--log-level", default="INFO", show_default=True, type=click.Choice(LEVELS, case_sensitive=False),
              help="Least severe diagnostics shown on stderr (and in --log-file); results go to stdout.")
@click.option("--log-file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also append the diagnostics to this file, progress lines included (even on a terminal).")
def cli(log_level: str, log_file: Path | None) -> None:
    """Impossible Distillation: paraphrase/summary datasets and students from a small LM."""
    configure_logging(log_level, log_file)


@cli.command()
@click.option("--model", default=DEFAULT_TEACHER, show_default=True,
              help="Teacher: embedded name, local directory or hub id.")
@click.option("--contexts", "contexts", default="8", show_default=True, callback=_contexts_arg,
              help="Number of news-prefix contexts, or a corpus file (.txt, .jsonl, .parquet).")
@_setting("--samples", domain=POSITIVE_INT, default=8, show_default=True, help="Teacher samples per context (paper: 100).")
@click.option("--out", default="runs/default", show_default=True, type=click.Path(path_type=Path))
@click.option("--backend", default=BATCH_BACKEND, show_default=True, type=click.Choice(BACKENDS))
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@_setting("--seed", domain=SEED, default=0, show_default=True)
@_setting("--batch-size", domain=POSITIVE_INT, default=16, show_default=True)
@click.option("--format", "fmt", default="jsonl", show_default=True, type=click.Choice(["jsonl", "parquet"]))
@_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: all cores).")
@_setting("--workers", domain=POSITIVE_INT, default=1, show_default=True, help="Processes (or Ray actors) over shards.")
@_executor_options
@click.option("--trust-remote-code", is_flag=True, help="Allow a hub model's own code to run.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_no_wait_option
def generate(contexts: int | Path, fmt: str, **kwargs) -> None:
    """Sample contexts, then candidate continuations of each, with the teacher."""
    require("models", *_executor_extra(kwargs["executor"]), what="impdist generate")
    from impdist.generate.pipeline import generate as run  # the model stack: loaded per command

    click.echo(str(run(contexts=contexts, fmt=fmt, **kwargs)))


@cli.command(name="filter")
@click.option("--in", "source", default="runs/default", show_default=True, type=click.Path(path_type=Path),
              help="The --out folder of `impdist generate`, a candidates stage, or a JSONL file of candidates.")
@click.option("--out", default=None, type=click.Path(path_type=Path), help="Run folder (default: --in).")
@click.option("--task", default="paraphrase", show_default=True, type=click.Choice(TASKS))
@click.option("--judge", default="embedding", show_default=True,
              help="embedding[:MODEL], nli:MODEL or paraphrase:MODEL (a dir from `impdist judge train`).")
@_setting("--threshold", "judge_threshold", domain=JUDGE_SCORE, default=None, help="Judge threshold (default: the judge's).")
@_setting("--min-len-ratio", domain=POSITIVE, default=0.8, show_default=True, help="Paraphrase: least len(tgt)/len(src).")
@_setting("--max-len-ratio", domain=POSITIVE, default=1.5, show_default=True, help="Paraphrase: most len(tgt)/len(src).")
@_setting("--max-compression", domain=UNIT, default=0.75, show_default=True, help="Summary: most len(tgt)/len(src).")
@_setting("--max-rouge-l", domain=UNIT, default=0.75, show_default=True, help="Drop pairs with a higher ROUGE-L.")
@click.option("--numbers/--no-numbers", default=True, show_default=True, help="Numbers must agree.")
@click.option("--graph/--no-graph", "entailment_graph", default=True, show_default=True,
              help="Keep one pair per entailment-graph component of each context.")
@_setting("--near-duplicate", domain=UNIT, off=True, default="0.8", show_default=True,
              help="MinHash-LSH Jaccard threshold, or 'off'.")
@_setting("--semantic-duplicate", domain=UNIT, off=True, default="0.95", show_default=True,
              help="Cosine threshold of pair embeddings, or 'off'.")
@_setting("--cap", domain=POSITIVE_INT, default=32, show_default=True, help="Most pairs per context group.")
@click.option("--pairing", default="group", show_default=True, type=click.Choice(["group", "source"]),
              help="Pair every two sentences of a context group, or y_orig with each candidate only.")
@_setting("--seed", domain=SEED, default=0, show_default=True)
@click.option("--judge-all", is_flag=True, help="Judge every pair, not only those passing the lexical filters.")
@click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True, help="Sentence embeddings for semantic dedup.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@_setting("--batch-size", domain=POSITIVE_INT, default=32, show_default=True)
@_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: all cores).")
@_setting("--workers", domain=POSITIVE_INT, default=1, show_default=True, help="Processes (or Ray actors) over shards.")
@_executor_options
@click.option("--format", "fmt", default="jsonl", show_default=True, type=click.Choice(["jsonl", "parquet"]))
@click.option("--rethreshold", is_flag=True, help="Rebuild the dataset from stored scores; runs no model.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_no_wait_option
def filter_command(task: str, judge_threshold: float | None, min_len_ratio: float, max_len_ratio: float,
                   max_compression: float, max_rouge_l: float, numbers: bool, entailment_graph: bool,
                   near_duplicate: float | None, semantic_duplicate: float | None, **kwargs) -> None:
    """Pair the candidates, judge them, drop near-copies and duplicates: the distilled dataset."""
    require(*(() if kwargs["rethreshold"] else ("models",)), "filters", "report",
            *(("faiss",) if semantic_duplicate is not None else ()), *_executor_extra(kwargs["executor"]),
            what="impdist filter")
    from impdist.filters import chain, pipeline  # the model stack: loaded per command

    try:
        cfg = chain.FilterConfig(task=task, min_len_ratio=min_len_ratio, max_len_ratio=max_len_ratio,
                           max_compression=max_compression, max_rouge_l=max_rouge_l, numbers=numbers,
                           judge_threshold=judge_threshold, entailment_graph=entailment_graph,
                           near_duplicate=near_duplicate, semantic_duplicate=semantic_duplicate)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    click.echo(str(pipeline.filter_dataset(task=task, config=cfg, **kwargs)))


@cli.command(name="run")
@click.option("--out", default="runs/default", show_default=True, type=click.Path(path_type=Path))
@click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="A run.json an earlier run wrote (or a JSON object of some settings): repeat that run. "
                   "Flags given here override it.")
@click.option("--preset", default=None, metavar="NAME",
              help="Start from a named configuration: default (`make run`) or large (the README's scale curve; "
                   "hours on 2 CPU cores). Flags given here override it.")
@click.option("--print-config", is_flag=True, help="Print the resolved configuration as JSON and exit.")
@click.option("--teacher", default=None, help="Embedded name, local directory or hub id.")
@_setting("--contexts", domain=POSITIVE_INT, default=None, help="News-prefix contexts to generate.")
@_setting("--samples", domain=POSITIVE_INT, default=None, help="Teacher samples per context.")
@click.option("--judge-data", default=None,
              help="Labelled pairs to train the paraphrase judge on: a named set (mrpc-judge: MRPC without the "
                   "mrpc-eval items), a file or "
                   "hf:REPO[:CONFIG[:SPLIT]]; 'none' uses the embedding judge.")
@click.option("--tasks", default=None, help="Comma-separated tasks to build datasets and train a student for.")
@_setting("--rewrite-sources", domain=NON_NEGATIVE_INT, default=None,
              help="Teacher sentences the prompted teacher rewrites into the student's data; "
                   "0 trains on the contextual pairs alone.")
@_setting("--train-minutes", domain=POSITIVE, default=None,
              help="A cap on each student's training time (default: none; 3 epochs, at least 40 steps).")
@_setting("--eval-items", domain=POSITIVE_INT, default=None,
              help="Items of each evaluation set to score (default: the config's per set).")
@_setting("--seed", domain=SEED, default=None)
@_setting("--show", domain=NON_NEGATIVE_INT, default=5, show_default=True, help="Paraphrases to print beside their sources at the end.")
@_setting("--workers", domain=POSITIVE_INT, default=1, show_default=True, help="Processes (or Ray actors) over generate and filter shards.")
@_executor_options
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_no_wait_option
def run_command(out: Path, config_file: Path | None, preset: str | None, print_config: bool, show: int, workers: int, executor: str,
                ray_address: str | None, quiet: bool, **flags) -> None:
    """The whole job on the embedded defaults: generate, judge, filter, train, export, evaluate, report.

    The resolved configuration is written to OUT/run.json; `--config OUT/run.json` repeats it.
    `--print-config` shows every default."""
    require("models", "filters", "faiss", "report", *_executor_extra(executor), what="impdist run")
    import json

    from impdist.run import run  # the model stack: loaded per command
    from impdist.run_config import PRESETS, RunConfig, preset as named, read_run_config  # the model stack

    if preset is not None and config_file is not None:
        raise click.UsageError("give --preset or --config, not both")
    if preset is not None and preset not in PRESETS:
        raise click.BadParameter(f"{preset!r} is no preset; choose from {', '.join(PRESETS)}", param_hint="--preset")
    config = read_run_config(config_file) if config_file is not None else named(preset) if preset else RunConfig()
    overrides = {k: v for k, v in flags.items() if v is not None}
    if "tasks" in overrides:
        chosen = tuple(t.strip() for t in overrides["tasks"].split(",") if t.strip())
        if not chosen or set(chosen) - set(TASKS):
            raise click.BadParameter(f"tasks must be {' and/or '.join(TASKS)}, got {overrides['tasks']!r}",
                                     param_hint="--tasks")
        overrides["tasks"] = chosen
    if "judge_data" in overrides and overrides["judge_data"].lower() == "none":
        overrides["judge_data"] = None
    if "eval_items" in overrides:
        items = overrides.pop("eval_items")
        overrides["eval_sets"] = {name: items for name in config.eval_sets}
    config = config.with_overrides(**overrides)
    if print_config:
        click.echo(json.dumps(config.to_json(), indent=2))
        return
    click.echo(str(run(out, config, show=show, quiet=quiet, workers=workers, executor=executor,
                       ray_address=ray_address)))


@cli.group()
def judge() -> None:
    """Semantic-equivalence judges: train a cross-encoder, calibrate any judge on labelled pairs."""


@judge.command("train")
@click.option("--base", default=DEFAULT_EMBEDDER, show_default=True,
              help="Encoder to fine-tune: embedded name, local directory or hub id.")
@click.option("--data", required=True,
              help="Labelled pairs: SICK for --labels nli, MRPC or STS for --labels paraphrase; a JSONL file, a "
                   "shipped set (sick-nli-dev; mrpc-judge, mrpc-dev-labelled, sts-dev) or hf:REPO[:CONFIG[:SPLIT]].")
@click.option("--labels", required=True, type=click.Choice(["nli", "paraphrase"]))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Directory for the judge.")
@_setting("--epochs", domain=POSITIVE, default=None, help="Default: 3 for nli, 1 for paraphrase.")
@_setting("--batch-size", domain=POSITIVE_INT, default=16, show_default=True)
@_setting("--lr", domain=POSITIVE, default=None, help="Default: 5e-5 for nli, 1e-4 for paraphrase.")
@_setting("--max-length", domain=JUDGE_MAX_LENGTH, default=128, show_default=True, help="Tokens per pair.")
@_setting("--holdout", domain=INNER_FRACTION, default=0.2, show_default=True, help="Fraction of ids held out.")
@_setting("--seed", domain=SEED, default=0, show_default=True)
@_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: torch's).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def judge_train(**kwargs) -> None:
    """Fine-tune a cross-encoder judge; prints its held-out metrics."""
    require("models", "filters", what="impdist judge train")
    from impdist.judges.train import train_judge  # the model stack: loaded per command

    click.echo(str(train_judge(**kwargs)))


@judge.command("calibrate")
@click.option("--judge", "judges", required=True, multiple=True,
              help="Judge spec: embedding[:MODEL], nli:MODEL or paraphrase:MODEL (repeatable).")
@click.option("--data", "datas", required=True, multiple=True,
              help="Labelled pairs: MRPC, STS or SICK JSONL, a shipped set (mrpc-dev-labelled, sts-dev, sick-nli-dev) "
                   "or hf:REPO[:CONFIG[:SPLIT]] (repeatable).")
@click.option("--split", default="heldout", show_default=True,
              type=click.Choice(["heldout", "train", "all"]))
@_setting("--threshold", domain=JUDGE_SCORE, default=None, help="Report P/R/F1 here instead of the best F1.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per judge and file.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@_setting("--batch-size", domain=POSITIVE_INT, default=32, show_default=True)
@_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: torch's).")
def judge_calibrate(judges: tuple[str, ...], datas: tuple[str, ...], as_json: bool, split: str,
                    threshold: float | None, device: str, batch_size: int, threads: int | None) -> None:
    """ROC AUC and the best-F1 threshold (or P/R/F1 at --threshold) of judges on labelled pairs."""
    require("models", "filters", what="impdist judge calibrate")
    import json

    from impdist.judges.calibrate import calibrate_many, format_table  # the model stack: loaded per command

    rows = calibrate_many(judges, datas, split=split, threshold=threshold, device=device, batch_size=batch_size,
                          threads=threads)
    click.echo("\n".join(json.dumps(row.as_dict()) for row in rows) if as_json else format_table(rows))


# --- students (impdist.student): train, distill, export, paraphrase, summarize -------------------

def _train_options(fn):
    """The options of `train` that `distill` shares (they make an impdist.student.TrainConfig)."""
    options = [
        click.option("--base", default=DEFAULT_TEACHER, show_default=True,
                     help="Model to fine-tune: embedded name, local directory or hub id (causal LM or T5-style)."),
        _setting("--epochs", domain=POSITIVE, default=3.0, show_default=True),
        _setting("--max-steps", domain=POSITIVE_INT, default=None, help="Optimizer steps (overrides --epochs)."),
        _setting("--max-minutes", domain=POSITIVE, default=None,
                     help="Training time budget (summed over resumes); the LR schedule fits it."),
        _setting("--batch-size", domain=POSITIVE_INT, default=8, show_default=True),
        _setting("--lr", domain=POSITIVE, default=1e-4, show_default=True),
        _setting("--max-length", domain=STUDENT_MAX_LENGTH, default=160, show_default=True, help="Tokens of prompt + target."),
        _setting("--heldout", domain=FRACTION, default=0.05, show_default=True, help="Fraction of pairs held out for eval loss."),
        click.option("--precision", default="auto", show_default=True, type=click.Choice(["auto", "fp32", "bf16"]),
                     help="bf16 autocast with fp32 master weights; auto: bf16 where the CPU has it natively."),
        _setting("--freeze", domain=FRACTION, default=0.0, show_default=True,
                     help="Fraction of the bottom blocks (and the embeddings) kept frozen: faster steps."),
        _setting("--save-every", domain=POSITIVE_INT, default=50, show_default=True, help="Checkpoint every N steps."),
        _setting("--seed", domain=SEED, default=0, show_default=True),
        _setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: all cores)."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _train_config(**options):
    from impdist.student.train import TrainConfig  # the model stack: loaded per command

    return TrainConfig(**options)


@cli.command(name="train")
@click.option("--data", required=True, multiple=True, type=click.Path(path_type=Path),
              help="The dataset: the --out folder of `impdist filter`, a dataset stage, or a JSONL file of pairs; "
                   "repeat it to train on several (e.g. a paraphrase and a summary dataset).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder of the student (resumes a run there).")
@_train_options
def train_command(data: tuple[Path, ...], out: Path, max_minutes: float | None, save_every: int, threads: int | None,
                  quiet: bool, **config) -> None:
    """Fine-tune a student on a distilled dataset (loss on the target only, control codes as prefixes)."""
    require("models", what="impdist train")
    from impdist.student.train import train  # the model stack: loaded per command

    click.echo(str(train(data[0] if len(data) == 1 else list(data), out, _train_config(**config), max_minutes=max_minutes, save_every=save_every,
                         threads=threads, quiet=quiet)))


@cli.command(name="distill")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="The round-0 dataset (as for train).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder of the rounds.")
@_setting("--rounds", domain=POSITIVE_INT, default=1, show_default=True, help="Self-distillation rounds.")
@click.option("--student", default=None, type=click.Path(path_type=Path),
              help="A trained student to start from (default: train one on --data first).")
@_setting("--samples", domain=POSITIVE_INT, default=10, show_default=True, help="Student samples per source.")
@_setting("--top-p", domain=UNIT, default=0.9, show_default=True)
@_setting("--temperature", domain=POSITIVE, default=0.7, show_default=True)
@click.option("--backend", default=BATCH_BACKEND, show_default=True, type=click.Choice(BACKENDS),
              help="Runtime of the student's sampling.")
@click.option("--judge", default=None, help="Filter judge (default: the dataset card's, else embedding).")
@_train_options
@_no_wait_option
def distill_command(data: Path, out: Path, rounds: int, student: Path | None, samples: int, top_p: float,
                    temperature: float, backend: str, judge: str | None, max_minutes: float | None, save_every: int,
                    threads: int | None, quiet: bool, **config) -> None:
    """Self-distillation: the student samples, the filter re-judges, the dataset grows, the student retrains."""
    require("models", "filters", "faiss", "report", what="impdist distill")
    from impdist.student.rewrites import Sampling  # the model stack: loaded per command
    from impdist.distill import distill  # the model stack: loaded per command

    sampling = Sampling(samples=samples, top_p=top_p, temperature=temperature, backend=backend, threads=threads,
                            seed=config["seed"])
    click.echo(str(distill(data, out, rounds=rounds, student=student, train_config=_train_config(**config),
                           sampling=sampling, judge=judge, max_minutes=max_minutes, save_every=save_every,
                           quiet=quiet)))


@cli.command(name="export")
@click.option("--model", required=True, type=click.Path(path_type=Path), help="A student folder `impdist train` wrote.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder of the ONNX export.")
@click.option("--int8", is_flag=True, help="Quantize the weights to int8 (MatMulNBits).")
@click.option("--eval/--no-eval", "evaluate", default=True, show_default=True,
              help="Score the exported graph on the student's held-out pairs for the model card.")
@_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: all cores).")
def export_command(model: Path, out: Path, int8: bool, evaluate: bool, threads: int | None) -> None:
    """Export a student to ONNX (KV cache, optionally int8) with a model card; loads with plain optimum."""
    require("models", what="impdist export")
    from impdist.student.export import export_student  # the model stack: loaded per command

    click.echo(str(export_student(model, out, int8=int8, evaluate=evaluate, threads=threads)))


def _rewrite_command(task: str):
    """`impdist paraphrase` / `impdist summarize`: lines (or JSONL with src) in, JSONL {src, tgt} out."""

    @click.option("--model", required=True, type=click.Path(path_type=Path), help="A trained or exported student.")
    @click.option("--input", "source", default="-", show_default=True,
                  type=click.Path(exists=True, dir_okay=False, allow_dash=True),
                  help="Lines or JSONL with 'src' (UTF-8); - for stdin.")
    @click.option("--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
                  help="JSONL {src, tgt}, one line per input line; - for stdout. A file is replaced only once "
                       "every line is done.")
    @click.option("--format", "input_format", default="auto", show_default=True,
                  type=click.Choice(["auto", "text", "jsonl"]), help="Input format (auto: JSONL if it starts with '{').")
    @click.option("--backend", default=None, type=click.Choice(BACKENDS),
                  help="Default: an export's own graph, else onnx-int8.")
    @click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
    @_setting("--n", domain=POSITIVE_INT, default=1, show_default=True, help="Outputs per line (n > 1 samples; tgt is then a list).")
    @_setting("--compression", domain=COMPRESSION, labels=True, default=None, help="Wanted len(out)/len(src), or a length code.")
    @_setting("--diversity", domain=DIVERSITY, labels=True, default=None, help="Wanted 1 - ROUGE-L to the source, or a diversity code.")
    @click.option("--exemplar", default=None, help="A sentence whose syntax the output should follow.")
    @click.option("--extractive", is_flag=True, help="Only delete words: the output keeps words of its source, in order.")
    @click.option("--sample", is_flag=True, default=None, help="Sample (top-p) instead of greedy decoding.")
    @_setting("--temperature", domain=POSITIVE, default=None,
                  help="Sampling temperature (default 0.7; 1.0 for --best-of's samples).")
    @_setting("--top-p", domain=UNIT, default=None, help="Nucleus mass (default 0.9; 0.95 for --best-of's samples).")
    @_setting("--seed", domain=SEED, default=0, show_default=True)
    @_setting("--batch-size", domain=POSITIVE_INT, default=32, show_default=True)
    @_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: all cores).")
    def command(model: Path, source: str, output: str, **options) -> None:
        if missing("serve") is not None:  # the serving install runs exports; Paraphraser.load names [models] for the rest
            require("models", what=f"impdist {'paraphrase' if task == 'paraphrase' else 'summarize'}")
        from impdist.student.serve import rewrite_file  # the model stack: loaded per command

        rewrite_file(model, source, output, task=task, **options)

    command.__doc__ = f"{'Paraphrase' if task == 'paraphrase' else 'Summarize'} sentences with a student."
    if task == "summary":
        command = click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True,
                               help="Sentence embeddings that --best-of compares with.")(command)
        command = _setting("--best-of", domain=POSITIVE_INT, default=1, show_default=True,
                               help="Return the most informative of N sampled summaries (the most meaning "
                                    "for its length).")(command)
    return command


cli.command(name="paraphrase", help="Paraphrase sentences with a student: lines or JSONL in, JSONL {src, tgt} out.")(
    _rewrite_command("paraphrase"))
cli.command(name="summarize", help="Summarize sentences with a student: lines or JSONL in, JSONL {src, tgt} out.")(
    _rewrite_command("summary"))


@cli.command(name="serve")
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@_setting("--port", domain=PORT, default=8000, show_default=True, help="Port to listen on.")
@click.option("--backend", default=None, type=click.Choice(BACKENDS), help="Default: an export's own graph, else onnx-int8.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: all cores).")
@_setting("--max-batch", domain=POSITIVE_INT, default=ServeConfig.max_batch, show_default=True,
          help="Most sentences decoded together (requests with equal options are merged).")
@_setting("--max-wait-ms", domain=NON_NEGATIVE_INT, default=ServeConfig.max_wait_ms, show_default=True,
          help="Longest a request waits for others to share its batch.")
@_setting("--max-queue", domain=POSITIVE_INT, default=ServeConfig.max_queue, show_default=True,
          help="Most requests waiting; beyond it the service answers 503 with Retry-After.")
@_setting("--max-texts", domain=POSITIVE_INT, default=Limits.max_texts, show_default=True,
          help="Most texts per request.")
@_setting("--max-chars", domain=POSITIVE_INT, default=Limits.max_chars, show_default=True,
          help="Most characters per text.")
@click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True,
              help="Sentence embeddings that best_of compares summaries with.")
def serve_command(model: Path, host: str, port: int, backend: str | None, device: str, threads: int | None,
                  max_batch: int, max_wait_ms: int, max_queue: int, max_texts: int, max_chars: int,
                  embedder: str) -> None:
    """Serve a student over HTTP: POST /v1/paraphrase and /v1/summarize, GET /health and /metrics."""
    require("serve", what="impdist serve")
    from impdist.serving.app import serve  # the HTTP stack: loaded per command

    config = ServeConfig(max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue, embedder=embedder,
                         limits=Limits(max_texts=max_texts, max_chars=max_chars))
    serve(str(model), host, port, backend=backend, device=device, threads=threads, config=config)


# --- evaluation (impdist.evaluation) --------------------------------------------------------------

@cli.command(name="evaluate")
@click.option("--model", default=None, type=click.Path(path_type=Path),
              help="A student (trained or exported), or an `impdist distill` folder (every round). "
                   "Default: the baselines only.")
@click.option("--data", required=True,
              help="mrpc-eval (the MRPC items no mrpc-judge judge saw), mrpc-dev, google-compression-dev, "
                   "broadcast-dev, bnc-dev, or a file: JSONL {src, refs} or TSV "
                   "(source, then references).")
@click.option("--task", default=None, type=click.Choice(TASKS),
              help="Default: the named set's, else paraphrase.")
@_setting("--limit", domain=POSITIVE_INT, default=None, help="Evaluate the first N items only.")
@click.option("--baselines", default="copy,truncate,teacher", show_default=True,
              help="Comma-separated: copy, truncate (summaries), teacher (prompted zero-shot); 'none' for none.")
@click.option("--teacher", default=DEFAULT_TEACHER, show_default=True, help="The teacher to prompt.")
@click.option("--backend", default=None, type=click.Choice(BACKENDS),
              help="The student's runtime (default: its export's, or onnx-int8).")
@click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True,
              help="Sentence embeddings for BERT-iBLEU's similarity (embedded name, directory or hub id).")
@_setting("--diversity", domain=DIVERSITY, labels=True, default=None, help="The student's diversity code (a number or a code label).")
@_setting("--compression", domain=COMPRESSION, labels=True, default=None, help="The student's length code (a number or a code label).")
@click.option("--extractive", is_flag=True, help="Decode the student extractively: it may only delete words.")
@_setting("--best-of", domain=POSITIVE_INT, default=1, show_default=True,
              help="Summaries: the student's most informative of N samples (compared by --embedder).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of metrics.")
@_setting("--threads", domain=THREADS, default=None, help="Intra-op threads (default: all cores).")
def evaluate_command(model: Path | None, data: str, task: str | None, limit: int | None, baselines: str, teacher: str,
                     backend: str | None, embedder: str, diversity: str | None, compression: str | None,
                     extractive: bool, best_of: int, as_json: bool, threads: int | None) -> None:
    """Score a student and the baselines on a benchmark: iBLEU, BERT-iBLEU, ROUGE, compression, diversity."""
    require("models", what="impdist evaluate")
    import json

    from impdist.evaluation.evaluate import evaluate  # the model stack: loaded per command
    from impdist.student.codes import EvalControls  # the model stack: loaded per command

    chosen = [] if baselines.strip() == "none" else [b.strip() for b in baselines.split(",") if b.strip()]
    controls = EvalControls(diversity=diversity, compression=compression, extractive=extractive, best_of=best_of)
    result = evaluate(model, data, task=task, limit=limit, baselines=chosen, teacher=teacher, backend=backend,
                      embedder=embedder, controls=controls, threads=threads, quiet=as_json)
    click.echo(json.dumps(result.to_json()) if as_json else str(result))


# --- publishing (impdist.hub) ---------------------------------------------------------------------

@cli.command(name="push")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("repo_id")
@click.option("--dry-run", is_flag=True, help="List the files and the repo they would go to; no network.")
@click.option("--private", is_flag=True, help="Create the repo private (an existing repo keeps its visibility).")
@click.option("--message", default=None, help="The commit message.")
def push_command(path: Path, repo_id: str, dry_run: bool, private: bool, message: str | None) -> None:
    """Upload a dataset (its shards and README card) or an `impdist export` to the Hub repo REPO_ID."""
    require("hub", what="impdist push")
    from impdist.hub import push  # huggingface_hub: loaded per command

    plan = push(path, repo_id, dry_run=dry_run, private=private, message=message)
    click.echo(str(plan) if dry_run else f"pushed {len(plan.files)} files to https://huggingface.co/"
               f"{'datasets/' if plan.repo_type == 'dataset' else ''}{repo_id}")


# --- the artefact cache (impdist.io.cache) --------------------------------------------------------

@cli.group(name="cache")
def cache_group() -> None:
    """The artefact cache (IMPDIST_CACHE): converted and exported models and data, built once and kept
    under IMPDIST_CACHE_LIMIT (least recently used entries go first)."""


@cache_group.command(name="list")
def cache_list() -> None:
    """Every entry: its size, last use and whether a running process uses it (least recently used
    first), then the total against the limit."""
    click.echo(artefact_cache.format_entries(artefact_cache.entries(), artefact_cache.cache_limit()))


def _size_arg(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A size such as 5GB or 500MB (impdist.io.cache.parse_size)."""
    try:
        return None if value is None else artefact_cache.parse_size(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@cache_group.command(name="prune")
@click.option("--to", "size", default=None, callback=_size_arg,
              help="Delete least recently used entries until the cache holds at most this much (e.g. 5GB). "
                   "Default: its limit.")
@click.option("--all", "everything", is_flag=True, help="Delete every entry that no running process uses.")
def cache_prune(size: int | None, everything: bool) -> None:
    """Free the cache: entries in use by a running process stay; any other is rebuilt on its next use."""
    if everything and size is not None:
        raise click.UsageError("give --to SIZE or --all, not both")
    click.echo(str(artefact_cache.prune(0 if everything else size)))


def main() -> None:
    """Entry point: user errors print one line and exit 1, without a traceback."""
    try:
        cli(standalone_mode=False, prog_name="impdist")
    except ImpdistError as exc:
        click.echo(f"impdist: error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("impdist: aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:  # `impdist judge`: the help, as click shows it
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:  # a bad flag: one line, like every other error, exit 2
        where = exc.ctx.command_path if exc.ctx is not None else "impdist"
        click.echo(f"impdist: error: {' '.join(exc.format_message().split())} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:  # an optional dependency the command's require() did not name
        extra = extra_for_module(exc.name)
        if extra is None:
            raise
        click.echo(f"impdist: error: this command needs {exc.name}, which is not installed: {install_hint(extra)}",
                   err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
