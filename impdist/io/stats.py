"""A stage's `stats.json`: rows in and out, why rows were dropped, seconds and rows/s, written
beside its manifest when the stage completes, so a run's throughput and funnel can be read (and
compared across runs) without parsing its log.

`StageStart` is taken when a stage directory is opened; `write_stats` turns it into the file
when the stage completes. On a resumed run the rows and seconds are those of this run (the
shards finished before it are counted in `rows_out`, not in `rows_per_s`).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from impdist.io.atomic import write_bytes_atomic

STATS_FILE = "stats.json"


def _rows(manifest: Mapping[str, Any]) -> int:
    return sum(int(entry.get("rows", 0)) for entry in manifest.get("shards", {}).values())


@dataclass(frozen=True)
class StageStart:
    """When this process opened a stage, and how many rows its shards held then."""

    rows: int
    monotonic: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> StageStart:
        """The start of a stage whose manifest is `manifest`, now."""
        return cls(_rows(manifest))


def stage_stats(manifest: Mapping[str, Any], start: StageStart, *, rows_in: int | None = None,
                rows_out: int | None = None, dropped: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The stats of a completed stage: `rows_out` defaults to the rows of all its shards."""
    seconds = max(time.monotonic() - start.monotonic, 1e-9)
    written = _rows(manifest)
    stats: dict[str, Any] = {"stage": manifest.get("stage"), "run_id": manifest.get("run_id"),
                             "rows_in": rows_in, "rows_out": written if rows_out is None else int(rows_out)}
    if dropped is not None:
        stats["dropped"] = {str(k): int(v) for k, v in sorted(dropped.items())}
    stats.update({"shards": len(manifest.get("shards", {})), "rows_this_run": written - start.rows,
                  "seconds": round(seconds, 3), "rows_per_s": round((written - start.rows) / seconds, 3),
                  "completed": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return stats


def write_stats(folder: str | Path, manifest: Mapping[str, Any], start: StageStart, **counts: Any) -> Path:
    """Write `stage_stats(manifest, start, **counts)` atomically as `folder/stats.json`."""
    path = Path(folder) / STATS_FILE
    data = stage_stats(manifest, start, **counts)
    write_bytes_atomic(path, (json.dumps(data, indent=2) + "\n").encode())
    return path


def read_stats(folder: str | Path) -> dict[str, Any] | None:
    """A stage folder's stats, or None if it has none (yet)."""
    try:
        return json.loads((Path(folder) / STATS_FILE).read_bytes())
    except FileNotFoundError:
        return None
