"""Who runs a stage's shards: `run_shards` picks an executor by name, `local` (this process or a
process pool, local.py) or `ray` (Ray actors, ray.py); both follow the contract in base.py.

Neither module imports Ray when imported (ray.py loads it on first use), so importing this
package costs nothing for runs that stay local.
"""
from __future__ import annotations

from typing import Sequence

from impdist.io.executors import ray as ray_executor
from impdist.io.executors.base import Progress, StageFn, Unit, units_to_run
from impdist.io.executors.local import run_local
from impdist.io.stage import StageDir

EXECUTORS = ("local", "ray")

__all__ = ["EXECUTORS", "StageFn", "Unit", "run_shards"]


def run_shards(stage: StageDir, units: Sequence[Unit], fn: StageFn, *, workers: int = 1,
               progress: str | None = None, quiet: bool = False, executor: str = "local",
               ray_address: str | None = None) -> None:
    """Write `fn(payload)` as shard `name` for every (name, payload) not already done.

    Each shard depends only on its payload, so the result is the same whatever the order of
    completion or the number of workers. If `fn` raises, the shards finished so far stay
    recorded and the exception propagates with the shard name added as a note. With
    `workers > 1`, `fn` and the payloads must be picklable (module-level functions). Call
    `stage.complete()` after the last `run_shards` of a stage. `executor="ray"` runs the units
    on `workers` Ray actors (a local cluster, or the one at `ray_address`). While other shards
    are to do, this process holds the stage's writer lock until `stage.complete()` (see
    impdist.io.stage): a second process on the same stage waits, then skips what this one did.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if executor == "ray":
        ray_executor.require_ray()  # before any work: a missing extra fails the same way every time
    if not units_to_run(stage, units):
        return  # all done: nothing to write, so no writer lock (a finished stage in a read-only folder is read)
    # One process writes a stage: wait for another one writing it (or refuse, --no-wait); a first
    # write that fails leaves no folder behind.
    with stage.writing():
        todo = units_to_run(stage, units)  # again under the lock: what another process did meanwhile is done
        bar = Progress(progress or stage.name, len(units), unit="shards", initial=len(units) - len(todo),
                       quiet=quiet)
        try:
            if executor == "ray":
                if todo:
                    ray_executor.run_ray(stage, todo, fn, workers=workers, progress=bar, address=ray_address)
            else:
                run_local(stage, todo, fn, workers=workers, progress=bar)
        finally:
            bar.close()
