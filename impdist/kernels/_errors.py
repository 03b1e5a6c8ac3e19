"""The kernels' one error translation: a bad argument reaches the caller as KernelArgumentError or
KernelTypeError (impdist.errors), whether the Python wrapper or the compiled core found it."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from impdist.errors import ImpdistError, KernelArgumentError, KernelTypeError


@contextmanager
def core_errors() -> Iterator[None]:
    """Around a call into _core or _cuda: their ValueError / TypeError (pybind11's value_error,
    type_error, and its refusal of mistyped arguments) re-raised as ours, message unchanged."""
    try:
        yield
    except ImpdistError:
        raise
    except TypeError as exc:
        raise KernelTypeError(str(exc)) from None
    except ValueError as exc:
        raise KernelArgumentError(str(exc)) from None
