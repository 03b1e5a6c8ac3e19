"""The stage-function contract and what every executor shares.

A stage function takes one payload (an input shard) and returns or yields its rows (dicts); it
never learns which executor runs it. A unit is (shard name, payload). An executor runs each unit
with `run_unit` in some worker process, which streams the rows straight into the shard file
(atomically) and hands back a small ShardInfo; the driver alone records finished shards in the
manifest (`record`), so rows never cross a process boundary and the manifest has one writer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from impdist.io.stage import StageDir, shard_file
from impdist.io.writers import ShardInfo, write_rows
from impdist.progress import Progress

StageFn = Callable[[Any], Iterable[dict]]
Unit = tuple[str, Any]


def counted(rows: Iterable[dict], progress: Progress) -> Iterator[dict]:
    """`rows`, counting each on `progress` as it passes (for stages run in the driver)."""
    for row in rows:
        progress.add_rows(1)
        yield row


def rows_of(fn: StageFn, payload: Any) -> Iterable[dict]:
    """`fn(payload)`, refusing a stage function that returned None (a forgotten `return`)."""
    rows = fn(payload)
    if rows is None:
        raise TypeError(f"{getattr(fn, '__name__', fn)} returned None; a stage function must "
                        "return or yield its rows (dicts)")
    return rows


def run_unit(path: str, fmt: str, shard: str, fn: StageFn, payload: Any) -> ShardInfo:
    """Worker side: run `fn` on one payload and write its rows as the shard file in `path`."""
    return write_rows(Path(path) / shard_file(shard, fmt), rows_of(fn, payload), fmt)


def record(stage: StageDir, shard: str, info: ShardInfo, progress: Progress) -> None:
    """Driver side: record a shard a worker finished, and count it."""
    stage.record_shard(shard, info)
    progress.add_rows(info.rows)
    progress.update(1)


def units_to_run(stage: StageDir, units: Sequence[Unit]) -> list[Unit]:
    """The units whose shard is not done yet, after checking every name (unique, a valid file
    name) before any work starts."""
    names = [u[0] for u in units]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"shard names must be unique; repeated: {', '.join(dup[:5])}")
    for n in names:
        shard_file(n, stage.fmt)
    stage.refresh()
    return [(s, p) for s, p in units if not stage.is_done(s)]


def note_shard(exc: BaseException, shard: str, stage: StageDir) -> None:
    """Add "while running shard X of stage Y" to an exception a stage function raised."""
    note = f"while running shard {shard!r} of stage {stage.path}"
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10: what add_note does
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]
