"""The `impdist` command: a thin layer over the Python API (every command is an importable function)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from impdist.errors import ImpdistError


def _contexts_arg(value: str) -> int | Path:
    """--contexts takes a count of news-prefix contexts or the path of a corpus file."""
    if value.isdigit():
        return int(value)
    path = Path(value)
    if not path.exists():
        raise click.BadParameter(f"{value!r} is neither a number of contexts nor an existing file")
    return path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="impdist")
def cli() -> None:
    """Impossible Distillation: paraphrase/summary datasets and students from a small LM."""


@cli.command()
@click.option("--model", default="smollm2-135m", show_default=True,
              help="Teacher: embedded name, local directory or hub id.")
@click.option("--contexts", "contexts", default="8", show_default=True,
              help="Number of news-prefix contexts, or a corpus file (.txt, .jsonl, .parquet).")
@click.option("--samples", default=8, show_default=True, help="Teacher samples per context (paper: 100).")
@click.option("--out", default="runs/default", show_default=True, type=click.Path(path_type=Path))
@click.option("--backend", default="onnx-int8", show_default=True, type=click.Choice(["torch", "onnx", "onnx-int8"]))
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@click.option("--seed", default=0, show_default=True)
@click.option("--batch-size", default=16, show_default=True)
@click.option("--format", "fmt", default="jsonl", show_default=True, type=click.Choice(["jsonl", "parquet"]))
@click.option("--threads", default=None, type=int, help="Intra-op threads (default: all cores).")
@click.option("--workers", default=1, show_default=True, help="Processes over shards.")
@click.option("--trust-remote-code", is_flag=True, help="Allow a hub model's own code to run.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def generate(contexts: str, fmt: str, **kwargs) -> None:
    """Sample contexts, then candidate continuations of each, with the teacher."""
    from impdist.generate.pipeline import generate as run

    click.echo(str(run(contexts=_contexts_arg(contexts), fmt=fmt, **kwargs)))


def main() -> None:
    """Entry point: user errors print one line and exit 1, without a traceback."""
    try:
        cli(standalone_mode=False)
    except ImpdistError as exc:
        click.echo(f"impdist: error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("impdist: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
