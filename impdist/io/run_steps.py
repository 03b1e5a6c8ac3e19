"""The main job's per-step record (issue 21's throughput table): each step's seconds, the rows it
processed and their unit, and rows per second. `impdist run` prints it, writes it to
`<out>/stages.json` and the run report shows it, so where the time goes is measured, not guessed."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from impdist.io.atomic import write_bytes_atomic

STAGES_FILE = "stages.json"


@dataclass(frozen=True)
class Step:
    """One step of a run. `rows` counts what the step worked through (continuations sampled,
    pairs filtered, training examples seen, items evaluated), in `unit`; None where no count
    means anything (an export)."""

    name: str
    seconds: float
    summary: str
    rows: int | None = None
    unit: str = ""

    @property
    def rate(self) -> float | None:
        """Rows per second; None without rows, or for a step that took under a second (it was
        resumed from what an earlier run left, so its rate would say nothing)."""
        return self.rows / self.seconds if self.rows is not None and self.seconds >= 1.0 else None

    def to_json(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 1),
                "rows_per_s": None if self.rate is None else round(self.rate, 3)}


def table(steps: Sequence[Step]) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the per-step table, with each step's share of the run's time."""
    total = sum(s.seconds for s in steps) or 1.0
    rows = [[s.name, f"{s.seconds:.0f}", f"{100 * s.seconds / total:.0f}%",
             "" if s.rows is None else f"{s.rows:,} {s.unit}", "" if s.rate is None else f"{s.rate:.2f}"]
            for s in steps]
    rows.append(["total", f"{sum(s.seconds for s in steps):.0f}", "100%", "", ""])
    return ["step", "seconds", "share", "rows", "rows/s"], rows


def write_stages(out: Path, steps: Sequence[Step]) -> Path:
    """Write `<out>/stages.json`: every step's seconds, rows, unit and rate, and the total."""
    path = out / STAGES_FILE
    data = {"steps": [s.to_json() for s in steps], "total_s": round(sum(s.seconds for s in steps), 1)}
    write_bytes_atomic(path, (json.dumps(data, indent=2) + "\n").encode())
    return path
