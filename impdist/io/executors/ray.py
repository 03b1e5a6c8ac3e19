"""The `ray` executor: `run_shards`'s units on a Ray cluster (a local one, or `--ray-address`).

Same contract as the local pool (impdist/io/executors/base.py): a worker runs the stage function
on one payload (`run_unit`), streams its rows into the shard file in the stage directory and
returns a small ShardInfo; the driver alone records shards in the manifest, as results arrive. The stage
directory must therefore be on storage that every node sees (one machine, NFS, a shared volume).

The workers are `workers` actors, each a long-lived process running one shard at a time. That
is the whole "worker context": the model loaders stage functions call (`load_teacher`, the
filter's `_load_judge` / `_load_embedder`) memoize per process, so each actor loads a model once
and reuses it for every shard it gets, as a pool process does; the stage functions never learn
which executor runs them. Global steps (dedup across shards) stay in the driver as reduce stages.
"""
from __future__ import annotations

import logging
import os
import sys
from collections import deque
from pathlib import Path
from types import ModuleType
from typing import Any

from impdist.errors import ImpdistError
from impdist.io.executors.base import Progress, StageFn, Unit, note_shard, record, run_unit
from impdist.io.stage import StageDir
from impdist.io.writers import ShardInfo

INSTALL_HINT = "pip install 'impdist[ray]'"


def require_ray() -> ModuleType:
    """The `ray` module, or an ImpdistError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImpdistError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT} "
                           "(or use --executor local)") from None
    return ray


def connect(address: str | None = None, workers: int = 1) -> ModuleType:
    """Join the running Ray session, else the cluster at `address`, else start a local cluster
    with `workers` CPUs (it lives until this process exits, so later stages reuse it)."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            # "local": a new cluster of our own, even where `ray start` left one (`auto` joins that)
            ray.init(address="local", num_cpus=max(workers, 1), include_dashboard=False,
                     logging_level=logging.WARNING)
    except ConnectionError as e:
        raise ImpdistError(f"cannot reach the Ray cluster at {address!r} ({e}); start one with "
                           "`ray start --head` and pass its address, or leave out --ray-address "
                           "for a local cluster") from None
    return ray


class ShardWorker:
    """The body of one Ray actor: runs units one at a time in one long-lived process."""

    def __init__(self, env: dict[str, str], path: list[str]) -> None:
        os.environ.update(env)  # IMPDIST_CACHE and friends: the models resolve as on the driver
        # The driver's import path after the worker's own, so stage functions defined in a
        # source checkout or a user's script folder unpickle here too.
        sys.path.extend(p for p in path if p not in sys.path)

    def run(self, path: str, fmt: str, shard: str, fn: StageFn, payload: Any) -> ShardInfo:
        return run_unit(path, fmt, shard, fn, payload)

    def pid(self) -> int:
        return os.getpid()


def _cause(exc: BaseException) -> BaseException:
    """The stage function's own exception out of Ray's RayTaskError wrapper, when there is one."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def run_ray(stage: StageDir, todo: list[Unit], fn: StageFn, *, workers: int, progress: Progress,
            address: str | None = None) -> None:
    """Run the `todo` units on Ray actors, recording each shard as it arrives; on an error the
    running shards finish (and are recorded), no new one starts, and the error is raised."""
    ray = connect(address, workers)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    # An actor holds its CPU for life: more actors than CPUs would wait for ever.
    n = max(1, min(workers, len(todo), cpus or 1))
    env = {k: v for k, v in os.environ.items() if k.startswith("IMPDIST_")}
    actor = ray.remote(num_cpus=1, max_restarts=0)(ShardWorker)
    actors = [actor.remote(env, [p for p in sys.path if p]) for _ in range(n)]
    fn_ref = ray.put(fn)  # shipped once, not once per unit
    path = str(Path(stage.path).resolve())  # workers may not share the driver's cwd
    queue = deque(todo)
    running: dict[Any, tuple[str, Any]] = {}
    failure: tuple[str, BaseException] | None = None

    def submit(actor) -> None:
        shard, payload = queue.popleft()
        running[actor.run.remote(path, stage.fmt, shard, fn_ref, payload)] = (shard, actor)

    try:
        for actor in actors:
            if queue:
                submit(actor)
        while running:
            finished, _ = ray.wait(list(running), num_returns=1)
            for ref in finished:
                shard, actor = running.pop(ref)
                try:
                    info = ray.get(ref)
                except Exception as e:  # RayTaskError (the function raised) or RayActorError (died)
                    if failure is None:
                        failure = (shard, _cause(e))
                        queue.clear()  # stop what has not started; running ones finish
                    continue
                record(stage, shard, info, progress)
                if queue:
                    submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)
    if failure:
        shard, exc = failure
        note_shard(exc, shard, stage)
        raise exc
