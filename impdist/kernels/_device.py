"""Device and thread arguments shared by every kernel: the thin CPU/CUDA dispatch."""
from __future__ import annotations

from types import ModuleType

from impdist.errors import DeviceUnavailableError, KernelArgumentError

DEVICES = ("cpu", "cuda")


def check_device(device: str) -> str:
    """`device` if a kernel knows it, else KernelArgumentError naming the choices."""
    if device not in DEVICES:
        raise KernelArgumentError(f"device must be one of {DEVICES}, got {device!r}")
    return device


def threads_arg(threads: int | None) -> int:
    """None -> 0 (OpenMP's default: all cores, or OMP_NUM_THREADS)."""
    if threads is None:
        return 0
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise KernelArgumentError(f"threads must be a positive int or None, got {threads!r}")
    return threads


def cuda_module() -> ModuleType:
    """The CUDA extension, or DeviceUnavailableError saying why it cannot be used."""
    try:
        from impdist.kernels import _cuda  # built only where nvcc was found; loads the CUDA runtime
    except ImportError as exc:
        raise DeviceUnavailableError(
            "device='cuda' needs impdist built with CUDA: reinstall where nvcc is on PATH "
            "(or set IMPDIST_CUDA=1 to insist)"
        ) from exc
    if _cuda.device_count() < 1:
        raise DeviceUnavailableError("device='cuda' but no CUDA device is visible to this process")
    return _cuda


def cuda_available() -> bool:
    """True when the CUDA build is present and a GPU is visible."""
    try:
        cuda_module()
    except DeviceUnavailableError:
        return False
    return True
