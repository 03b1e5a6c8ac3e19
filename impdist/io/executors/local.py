"""The `local` executor: a stage's units in this process, or on a pool of `workers` processes.

With workers > 1 each pool process runs `run_unit` (impdist/io/executors/base.py): it streams its
shard's rows straight into the shard file and returns only a small ShardInfo, which this process
records in the manifest. Memory stays bounded even for generator stage functions, and the
manifest has a single writer per run (its flock still guards against a second run on the stage).
"""
from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from impdist.io.executors.base import Progress, StageFn, Unit, counted, note_shard, record, rows_of, run_unit
from impdist.io.stage import StageDir


def run_local(stage: StageDir, todo: list[Unit], fn: StageFn, *, workers: int, progress: Progress) -> None:
    """Run the `todo` units, in this process (workers <= 1, or one unit) or on a process pool;
    on an error the running shards finish (and are recorded), no new one starts, and the error
    is raised with the shard named in a note."""
    if workers <= 1 or len(todo) <= 1:
        _run_serial(stage, todo, fn, progress)
    else:
        _run_pool(stage, todo, fn, workers, progress)


def _run_serial(stage: StageDir, todo: list[Unit], fn: StageFn, progress: Progress) -> None:
    for shard, payload in todo:
        try:
            stage.write_shard(shard, counted(rows_of(fn, payload), progress))
        except BaseException as e:
            note_shard(e, shard, stage)
            raise
        progress.update(1)


def _run_pool(stage: StageDir, todo: list[Unit], fn: StageFn, workers: int, progress: Progress) -> None:
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
            fut = pool.submit(run_unit, str(stage.path), stage.fmt, shard, fn, payload)
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
                record(stage, shard, fut.result(), progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failure:
        shard, exc = failure
        note_shard(exc, shard, stage)
        raise exc
