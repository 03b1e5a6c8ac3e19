"""impdist.decoding.runtime: the backend names and their check, and torch's thread count."""
from __future__ import annotations

import subprocess
import sys

import pytest

from impdist.decoding.runtime import BACKENDS, BackendError, check_backend, default_threads, set_torch_threads


def test_backends_are_checked_in_one_place():
    assert [check_backend(b) for b in BACKENDS] == list(BACKENDS)
    with pytest.raises(BackendError, match="unknown backend 'trt': choose one of torch, onnx, onnx-int8"):
        check_backend("trt")


def test_torch_threads_are_the_users_or_every_core_of_a_cpu_run():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        set_torch_threads(1)
        assert torch.get_num_threads() == 1
        set_torch_threads(None, "cuda")  # a GPU run given no count keeps torch's own
        assert torch.get_num_threads() == 1
        set_torch_threads(None)
        assert torch.get_num_threads() == default_threads()
    finally:
        torch.set_num_threads(before)


def test_the_cli_reads_the_choices_without_loading_torch_or_numpy():
    code = "import sys, impdist.cli; print(sorted({'torch', 'numpy', 'onnxruntime'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
