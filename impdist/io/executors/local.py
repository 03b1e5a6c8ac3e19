"""Run a stage function over shards, skipping finished ones: in process or on a local process pool.

Who writes what with workers > 1: each worker streams its shard's rows straight into the shard
file (atomically) and returns only a small ShardInfo; the parent alone records shards in the
manifest. Rows never cross a process boundary (no pickling of whole shards, memory stays
bounded even for generator stage functions) and the manifest has a single writer per run (its
flock still guards against a second run on the same stage).

`executor="ray"` runs the same units on a Ray cluster (impdist/io/executors/ray.py): `_run_unit`
in a pool of actors against shared storage, the driver calling `stage.record_shard(shard, info)`
as results arrive, exactly as the pool does.
"""
from __future__ import annotations

import multiprocessing
import pickle
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from impdist.io.records import ShardInfo, write_rows
from impdist.io.stage import StageDir, shard_file

StageFn = Callable[[Any], Iterable[dict]]


class _Progress:
    """A shard-counting tqdm bar showing rows and rows/s; silent off a TTY or when quiet."""

    def __init__(self, label: str, total: int, done: int, quiet: bool) -> None:
        self.bar = tqdm(total=total, initial=done, desc=label, unit="shard", dynamic_ncols=True,
                        disable=quiet or not sys.stderr.isatty())
        self.rows, self.start, self.shown = 0, time.monotonic(), 0.0

    def add_rows(self, n: int) -> None:
        self.rows += n
        now = time.monotonic()
        if now - self.shown > 0.5:  # formatting the postfix per row would cost more than the row
            self.shown = now
            rate = self.rows / max(now - self.start, 1e-9)
            self.bar.set_postfix_str(f"{self.rows} rows, {rate:,.0f} rows/s")

    def shard_done(self) -> None:
        self.shown = 0.0
        self.add_rows(0)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _counted(rows: Iterable[dict], progress: _Progress) -> Iterator[dict]:
    for row in rows:
        progress.add_rows(1)
        yield row


def _rows_of(fn: StageFn, payload: Any) -> Iterable[dict]:
    rows = fn(payload)
    if rows is None:
        raise TypeError(f"{getattr(fn, '__name__', fn)} returned None; a stage function must "
                        "return or yield its rows (dicts)")
    return rows


def _run_unit(path: str, fmt: str, shard: str, fn: StageFn, payload: Any) -> ShardInfo:
    """Worker side: run `fn` on one payload and write its rows as the shard file."""
    return write_rows(Path(path) / shard_file(shard, fmt), _rows_of(fn, payload), fmt)


def _note(exc: BaseException, shard: str, stage: StageDir) -> None:
    note = f"while running shard {shard!r} of stage {stage.path}"
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10: what add_note does
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]


EXECUTORS = ("local", "ray")


def run_shards(stage: StageDir, units: Sequence[tuple[str, Any]], fn: StageFn, *,
               workers: int = 1, progress: str | None = None, quiet: bool = False,
               executor: str = "local", ray_address: str | None = None) -> None:
    """Write `fn(payload)` as shard `name` for every (name, payload) not already done.

    Each shard depends only on its payload, so the result is the same whatever the order of
    completion or the number of workers. If `fn` raises, the shards finished so far stay
    recorded and the exception propagates with the shard name added as a note. With
    `workers > 1`, `fn` and the payloads must be picklable (module-level functions). Call
    `stage.complete()` after the last `run_shards` of a stage. `executor="ray"` runs the units
    on `workers` Ray actors (a local cluster, or the one at `ray_address`); see ray_executor.py.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if executor == "ray":
        from impdist.io.executors import ray as ray_executor
        ray_executor.require_ray()  # before any work: a missing extra fails the same way every time
    names = [u[0] for u in units]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"shard names must be unique; repeated: {', '.join(dup[:5])}")
    for n in names:
        shard_file(n, stage.fmt)  # validate every name before doing any work
    stage.refresh()
    todo = [(s, p) for s, p in units if not stage.is_done(s)]
    bar = _Progress(progress or stage.name, len(units), len(units) - len(todo), quiet)
    try:
        if executor == "ray":
            if todo:
                ray_executor.run_ray(stage, todo, fn, workers=workers, bar=bar, address=ray_address)
        elif workers <= 1 or len(todo) <= 1:
            _run_serial(stage, todo, fn, bar)
        else:
            _run_pool(stage, todo, fn, workers, bar)
    finally:
        bar.close()


def _run_serial(stage: StageDir, todo: list[tuple[str, Any]], fn: StageFn, bar: _Progress) -> None:
    for shard, payload in todo:
        try:
            stage.write_shard(shard, _counted(_rows_of(fn, payload), bar))
        except BaseException as e:
            _note(e, shard, stage)
            raise
        bar.shard_done()


def _run_pool(stage: StageDir, todo: list[tuple[str, Any]], fn: StageFn, workers: int,
              bar: _Progress) -> None:
    try:
        pickle.dumps(fn)
    except Exception as e:
        raise TypeError(f"{fn!r} cannot be sent to worker processes ({e}); with workers > 1 the "
                        "stage function must be defined at module level (not a lambda or a "
                        "closure), or use workers=1") from None
    ctx = multiprocessing.get_context("spawn")  # fork would copy threads and locks in any state
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx)
    pending: dict[Future, str] = {}
    failure: tuple[str, BaseException] | None = None
    try:
        for shard, payload in todo:
            fut = pool.submit(_run_unit, str(stage.path), stage.fmt, shard, fn, payload)
            pending[fut] = shard
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                shard = pending.pop(fut)
                if fut.cancelled():
                    continue
                exc = fut.exception()
                if exc is not None:
                    if failure is None:
                        failure = (shard, exc)
                        for other in pending:  # stop what has not started; running ones finish
                            other.cancel()
                    continue
                info = fut.result()
                stage.record_shard(shard, info)
                bar.add_rows(info.rows)
                bar.shard_done()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failure:
        shard, exc = failure
        _note(exc, shard, stage)
        raise exc
