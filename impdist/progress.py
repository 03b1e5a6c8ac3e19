"""Progress of a long step (a stage's shards, training steps): a tqdm bar on a terminal, and a plain
log line every few seconds (stage, done/total, rows, rows/s, ETA) to the `impdist.progress`
logger, so a run under nohup, in a container or in CI shows where it is in its log.

On a terminal the CLI's stderr handler drops those lines (the bar shows the same), while a
`--log-file` still gets them; `quiet` turns both off.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from impdist.logs import PROGRESS, is_terminal

LINE_SECONDS = 5.0  # how often a plain progress line is logged
_log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    """`1h02m03s`, `2m03s` or `7s`."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}h{m:02d}m{s % 60:02d}s" if h else (f"{m}m{s % 60:02d}s" if m else f"{s}s")


class Progress:
    """Counts units (shards, steps) and rows of one stage; shows a bar on a terminal and logs a
    line every `every` seconds (default LINE_SECONDS), and a closing line if it logged any (a
    short step stays quiet). `note` is a short status shown after the counts (`loss 2.314`)."""

    def __init__(self, label: str, total: int | None, *, unit: str = "it", initial: int = 0,
                 quiet: bool = False, every: float | None = None) -> None:
        self.label, self.total, self.unit, self.quiet = label, total, unit, quiet
        self.every = LINE_SECONDS if every is None else every
        self.done, self.initial, self.rows, self.note = initial, initial, 0, ""
        self.start = self.last_line = time.monotonic()
        self.lines = 0
        self.bar: Any = None
        if not quiet and is_terminal():
            from tqdm import tqdm  # the bar needs an extra; plain lines do not

            self.bar = tqdm(total=total, initial=initial, desc=label, unit=unit, dynamic_ncols=True)
        self._bar_shown = 0.0

    def update(self, n: int = 1) -> None:
        """`n` more units done."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        self._tick()

    def add_rows(self, n: int) -> None:
        """`n` more rows written."""
        self.rows += n
        self._tick()

    def _tick(self) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self.bar is not None and now - self._bar_shown > 0.5:  # formatting per row costs more than the row
            self._bar_shown = now
            self.bar.set_postfix_str(self._counts(now, bar=True), refresh=False)
        if now - self.last_line >= self.every:
            self.last_line = now
            self._line(self.line(now))

    def _counts(self, now: float, *, bar: bool = False) -> str:
        """Rows and rows/s (else units/s), the ETA and the note; on a bar, which shows units, their
        rate and the ETA itself, only the rows and the note."""
        elapsed = max(now - self.start, 1e-9)
        parts = []
        if self.rows:
            parts.append(f"{self.rows:,} rows, {self.rows / elapsed:,.1f} rows/s")
        elif self.done > self.initial and not bar:
            parts.append(f"{(self.done - self.initial) / elapsed:,.2f} {self.unit}/s")
        if not bar and self.total and self.done > self.initial:
            left = (self.total - self.done) * elapsed / (self.done - self.initial)
            parts.append(f"ETA {_duration(max(left, 0.0))}")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)

    def line(self, now: float | None = None) -> str:
        """The plain progress line: `label: done/total unit (pct), rows, rows/s, ETA, note`."""
        now = time.monotonic() if now is None else now
        head = f"{self.label}: {self.done}/{self.total} {self.unit}" if self.total else f"{self.label}: {self.done} {self.unit}"
        if self.total:
            head += f" ({100 * self.done / self.total:.0f}%)"
        counts = self._counts(now)
        return f"{head}, {counts}" if counts else head

    def _line(self, text: str) -> None:
        self.lines += 1
        _log.info(text, extra={PROGRESS: True})

    def close(self) -> None:
        """Close the bar, and log a closing line if a progress line was logged."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.lines and not self.quiet:
            now = time.monotonic()
            self._line(f"{self.line(now)}; {_duration(now - self.start)} in all")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
