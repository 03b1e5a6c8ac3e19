"""What a user chooses about a model runtime: the decoding backend and the CPU threads. Free of
heavy imports (torch loads only inside set_torch_threads), so the CLI reads BACKENDS at start-up."""
from __future__ import annotations

import os
from typing import Literal, get_args

from impdist.errors import ImpdistError

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)

# The default runtime of each kind of work, chosen from bench/bench_teacher.py and bench_student.py
# (README, "Which backend by default"). Work done in batches (the pipeline's samples of a context,
# rewrites, evaluation: 16-64 rows) runs the fp32 graph: on the 2-core CPUs measured it decodes as
# fast as int8 at batch 16 and faster at 64, and it is exact. A student served a request at a time
# runs int8, about twice fp32's speed at batch 1.
BATCH_BACKEND: Backend = "onnx"
SERVING_BACKEND: Backend = "onnx-int8"


class BackendError(ImpdistError):
    """A backend cannot run as asked (unknown name, device without its runtime)."""


def check_backend(backend: str) -> str:
    """`backend` if it is one of BACKENDS, else BackendError naming the choices."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return backend


def default_threads() -> int:
    """CPU cores this process may use (its affinity mask, which taskset and containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def set_torch_threads(threads: int | None, device: str = "cpu") -> None:
    """torch's intra-op threads: `threads` when given, else every core this process may use for a
    CPU run; a GPU run given no count keeps torch's own."""
    if threads is None and device != "cpu":
        return
    import torch  # only callers about to run a torch model get here

    torch.set_num_threads(max(1, threads or default_threads()))
