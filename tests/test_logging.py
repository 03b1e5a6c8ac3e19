"""Logs outside a terminal: progress becomes a plain line every few seconds (stage, counts, rows,
rows/s, ETA) on the `impdist` logger; the CLI's --log-level / --log-file send diagnostics to
stderr and a file (a terminal's stderr skips the progress lines its bar shows); stages write
stats.json."""
from __future__ import annotations

import io
import logging
import re

import pytest
from click.testing import CliRunner

from impdist import logs, progress
from impdist.cli import cli
from impdist.io import open_stage
from impdist.io.executors import run_shards
from impdist.io.stats import read_stats
from impdist.progress import Progress


@pytest.fixture(autouse=True)
def restore_logging():
    """Each test leaves the `impdist` logger as it found it (configure changes it)."""
    logger = logging.getLogger(logs.LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for h in logger.handlers:
        if h not in saved[0]:
            h.close()
    logger.handlers[:], logger.level, logger.propagate = saved


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_off_a_terminal_progress_is_a_plain_line_with_rows_rate_and_eta(caplog, monkeypatch):
    monkeypatch.setattr("sys.stderr", _Stream(False))
    caplog.set_level(logging.INFO, logger=logs.LOGGER)
    with Progress("candidates", 4, unit="shards", every=0) as bar:
        bar.add_rows(120)
        bar.update(1)
    lines = [r.getMessage() for r in caplog.records if getattr(r, logs.PROGRESS, False)]
    assert re.fullmatch(r"candidates: 1/4 shards \(25%\), 120 rows, [\d,.]+ rows/s, ETA \d+s", lines[-2]), lines
    assert lines[-1].startswith("candidates: 1/4 shards (25%)") and lines[-1].endswith(" in all")
    assert bar.bar is None  # no tqdm bar off a terminal


def test_training_steps_show_their_rate_and_note(caplog, monkeypatch):
    monkeypatch.setattr("sys.stderr", _Stream(False))
    caplog.set_level(logging.INFO, logger=logs.LOGGER)
    bar = Progress("train", 100, unit="steps", initial=10, every=0)
    bar.note = "loss 2.500"
    bar.update(5)
    assert re.fullmatch(r"train: 15/100 steps \(15%\), [\d,.]+ steps/s, ETA \S+, loss 2.500",
                        caplog.records[-1].getMessage())


def test_quiet_and_short_steps_log_nothing(caplog, monkeypatch):
    monkeypatch.setattr("sys.stderr", _Stream(False))
    caplog.set_level(logging.INFO, logger=logs.LOGGER)
    with Progress("quiet", 2, every=0, quiet=True) as bar:
        bar.update(2)
    with Progress("short", 2, every=3600) as bar:  # done before the first line is due: no closing line either
        bar.update(2)
    assert not caplog.records


def test_run_shards_logs_progress_lines_when_stderr_is_a_file(caplog, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.stderr", _Stream(False))
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    caplog.set_level(logging.INFO, logger=logs.LOGGER)
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    run_shards(stage, [(f"{i:05d}", i) for i in range(3)], lambda i: [{"i": i}] * 4, progress="generate")
    lines = [r.getMessage() for r in caplog.records if getattr(r, logs.PROGRESS, False)]
    assert any(line.startswith("generate: 3/3 shards (100%), 12 rows") for line in lines), lines


@pytest.mark.parametrize("tty", [False, True])
def test_configure_sends_progress_to_stderr_only_off_a_terminal_and_always_to_the_file(monkeypatch, tmp_path, tty):
    stderr = _Stream(tty)
    monkeypatch.setattr("sys.stderr", stderr)
    logs.configure("info", tmp_path / "logs" / "run.log")
    log = logging.getLogger("impdist.somewhere")
    log.info("a diagnostic")
    log.debug("not shown at INFO")
    log.info("stage: 1/2 shards", extra={logs.PROGRESS: True})
    for h in logging.getLogger(logs.LOGGER).handlers:
        h.flush()
    text = (tmp_path / "logs" / "run.log").read_text()
    assert "a diagnostic" in text and "stage: 1/2 shards" in text and "not shown" not in text
    assert "a diagnostic" in stderr.getvalue()
    assert ("stage: 1/2 shards" in stderr.getvalue()) is not tty


def test_configure_replaces_its_handlers_and_follows_a_swapped_stderr(monkeypatch):
    logger = logging.getLogger(logs.LOGGER)
    before = set(logger.handlers)  # pytest's own, maybe
    logs.configure("warning")
    once = set(logger.handlers) - before
    logs.configure("warning")
    twice = set(logger.handlers) - before
    assert len(once) == len(twice) == 1 and not once & twice  # replaced, not added
    assert logger.level == logging.WARNING
    later = _Stream(False)
    monkeypatch.setattr("sys.stderr", later)
    logger.warning("after the swap")
    assert "after the swap" in later.getvalue()
    with pytest.raises(ValueError, match="log level"):
        logs.configure("loud")


def test_cli_log_options_configure_the_logger(tmp_path):
    log_file = tmp_path / "impdist.log"
    result = CliRunner().invoke(cli, ["--log-level", "debug", "--log-file", str(log_file), "push", str(tmp_path),
                                      "me/x", "--dry-run"])
    assert result.exit_code != 0  # tmp_path is no dataset: the command fails, but the options took effect first
    logger = logging.getLogger(logs.LOGGER)
    assert logger.level == logging.DEBUG
    assert any(isinstance(h, logging.FileHandler) and h.baseFilename == str(log_file) for h in logger.handlers)


def test_a_stage_writes_stats_when_it_completes(tmp_path):
    stage = open_stage(tmp_path, "gen", {"k": 1}, {})
    run_shards(stage, [("00000", 0), ("00001", 1)], lambda i: [{"i": i}] * 3, quiet=True)
    stage.complete(rows_in=2, dropped={"short": 1})
    stats = read_stats(stage.path)
    assert stats["stage"] == "gen" and stats["rows_in"] == 2 and stats["rows_out"] == 6
    assert stats["dropped"] == {"short": 1} and stats["shards"] == 2 and stats["rows_this_run"] == 6
    assert stats["seconds"] > 0 and stats["rows_per_s"] > 0
    resumed = open_stage(tmp_path, "gen", {"k": 1}, {})
    resumed.complete()  # already complete: nothing ran, the stats stay those of the run that did the work
    assert read_stats(stage.path) == stats


def test_the_int8_quantizer_import_leaves_no_root_handler_to_print_records_twice():
    """onnxruntime's matmul_nbits_quantizer calls logging.basicConfig at import; imported as
    impdist imports it, the root logger keeps the handlers it had."""
    import importlib
    import sys

    root = logging.getLogger()
    before = list(root.handlers)
    sys.modules.pop("onnxruntime.quantization.matmul_nbits_quantizer", None)
    with logs.root_handlers_kept():
        importlib.import_module("onnxruntime.quantization.matmul_nbits_quantizer")
    assert root.handlers == before
    with logs.root_handlers_kept():
        logging.basicConfig(level=logging.INFO, force=False, handlers=[logging.StreamHandler(io.StringIO())])
        root.addHandler(logging.NullHandler())
    assert root.handlers == before
