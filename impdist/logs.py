"""impdist's diagnostics: the `impdist` logger and the one place the command line sets it up.

Every module logs to `logging.getLogger(__name__)`, a child of `impdist`; results go to stdout,
everything else (stage announcements, progress lines, warnings) to this logger. A library user
who configures nothing sees only warnings (Python's last-resort handler); the command line
(`configure`) sends INFO and up to stderr and, with `--log-file`, to a file too.

Progress lines (`impdist.progress`) carry the record attribute PROGRESS: on a terminal the
stderr handler drops them, since a progress bar shows the same thing there, while a log file
always gets them.
"""
from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Iterator, TextIO

from impdist.errors import WriteError

LOGGER = "impdist"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
PROGRESS = "impdist_progress"  # the record attribute that marks a progress line
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_MARK = "_impdist_handler"  # marks the handlers `configure` installed, to replace them


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when `stream` (default: stderr) is a terminal, where progress is drawn as a bar."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (as logging's last resort does), so a
    swapped stderr (a test runner's, a daemon's) is followed, never a closed one written to;
    drops progress lines bound for a terminal, where the progress bar shows them."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass

    def filter(self, record: logging.LogRecord) -> bool:
        return not (getattr(record, PROGRESS, False) and is_terminal()) and bool(super().filter(record))


def configure(level: str = "INFO", log_file: str | PathLike | None = None) -> logging.Logger:
    """Send the `impdist` logger's records at `level` and up to stderr and, if given, appended
    to `log_file`; replaces what an earlier call installed (each CLI call configures afresh)."""
    if level.upper() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = []
    stderr = _Stderr()
    stderr.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
    handlers.append(stderr)
    if log_file is not None:
        path = Path(log_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = logging.FileHandler(path, encoding="utf-8")
        except OSError as e:
            raise WriteError(f"{path}: cannot open the log file ({e.strerror or e}). Choose a writable path "
                             "for --log-file.") from None
        file.setFormatter(logging.Formatter(_FORMAT))
        handlers.append(file)
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        logger.addHandler(handler)
    logger.setLevel(level.upper())  # records still propagate: an embedding app's (or pytest's) root handlers see them
    return logger


@contextmanager
def root_handlers_kept() -> Iterator[None]:
    """Undo what code run inside adds to the root logger: onnxruntime's quantizer calls
    logging.basicConfig when imported, which would print every impdist record a second time."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
