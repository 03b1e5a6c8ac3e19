"""Device and thread arguments shared by every kernel: the thin CPU/CUDA dispatch."""
from __future__ import annotations

from types import ModuleType

DEVICES = ("cpu", "cuda")


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    return device


def threads_arg(threads: int | None) -> int:
    """None -> 0 (OpenMP's default: all cores, or OMP_NUM_THREADS)."""
    if threads is None:
        return 0
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    return threads


def cuda_module() -> ModuleType:
    """The CUDA extension, or a clear error saying why it cannot be used."""
    try:
        from impdist.kernels import _cuda
    except ImportError as exc:
        raise RuntimeError(
            "device='cuda' needs impdist built with CUDA: reinstall where nvcc is on PATH "
            "(or set IMPDIST_CUDA=1 to insist)"
        ) from exc
    if _cuda.device_count() < 1:
        raise RuntimeError("device='cuda' but no CUDA device is visible to this process")
    return _cuda


def cuda_available() -> bool:
    """True when the CUDA build is present and a GPU is visible."""
    try:
        cuda_module()
    except RuntimeError:
        return False
    return True
