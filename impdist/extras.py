"""Optional dependencies: which `pip install 'impdist[EXTRA]'` brings which module.

`pip install impdist` is the compiled kernels plus numpy and click. Everything else is an extra
named for what it enables; code that needs one calls :func:`require` before it imports the
heavy module, so a missing extra fails with one line naming the install that fixes it.
"""
from __future__ import annotations

import importlib.util

from impdist.errors import MissingExtraError

# extra -> the top-level modules it installs that impdist imports (checked in this order).
EXTRAS: dict[str, tuple[str, ...]] = {
    "models": ("torch", "transformers", "huggingface_hub", "onnxruntime", "optimum", "onnx", "onnx_ir", "gguf",
               "accelerate", "blingfire", "tqdm", "pyarrow"),
    "serve": ("onnxruntime", "tokenizers", "starlette", "uvicorn", "prometheus_client"),
    "filters": ("datasketch", "scipy", "number_parser", "tqdm", "pyarrow", "huggingface_hub"),
    "faiss": ("faiss",),
    "report": ("matplotlib",),
    "ray": ("ray",),
    "hub": ("datasets", "huggingface_hub"),
}

# a top-level module -> the extra that brings it (the first extra that lists it).
_MODULE_EXTRA: dict[str, str] = {}
for _extra, _modules in EXTRAS.items():
    for _module in _modules:
        _MODULE_EXTRA.setdefault(_module, _extra)


def missing(extra: str) -> str | None:
    """The first module of `extra` that is not installed, or None when all are."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    for module in EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def install_hint(*extras: str) -> str:
    """The pip command that installs these extras."""
    return f"pip install 'impdist[{','.join(extras)}]'"


def require(*extras: str, what: str = "this") -> None:
    """Raise MissingExtraError naming the pip install when a module of any of `extras` is absent."""
    absent = [(extra, module) for extra in extras if (module := missing(extra)) is not None]
    if absent:
        names = ", ".join(module for _, module in absent)
        raise MissingExtraError(f"{what} needs {names}, which is not installed: {install_hint(*(e for e, _ in absent))}")


def extra_for_module(name: str | None) -> str | None:
    """The extra that installs the (possibly dotted) module `name`, or None if impdist does not know it."""
    if not name:
        return None
    return _MODULE_EXTRA.get(name.split(".", 1)[0])
