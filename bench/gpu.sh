#!/usr/bin/env bash
# The GPU half of impdist's checks, for a machine with an NVIDIA GPU and the CUDA toolkit:
# builds .venv with the CUDA kernels (make install, IMPDIST_CUDA=1), runs the CUDA tests
# (device="cuda" must equal device="cpu" exactly), then the CPU-vs-CUDA benchmark.
#
#   bench/gpu.sh                 # from the repository root; extra arguments go to bench_gpu.py
#   bench/gpu.sh --quick         # 100,000 pairs/texts instead of 1,000,000
#
# IMPDIST_CUDA_ARCHS defaults to this GPU's compute capability; CUDA_HOME to the toolkit of
# the nvcc on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu.sh: no NVIDIA GPU visible (nvidia-smi -L failed)" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader

if [[ -z "${IMPDIST_CUDA_ARCHS:-}" ]]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')
  [[ "$cap" =~ ^[0-9]+$ ]] && export IMPDIST_CUDA_ARCHS="$cap"
fi
if [[ -z "${CUDA_HOME:-}" ]] && command -v nvcc >/dev/null; then
  # nvcc may be a wrapper script outside the toolkit; nvcc itself knows where the toolkit is.
  top=$(nvcc --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -n1)
  [[ -n "$top" && -d "$top" ]] && export CUDA_HOME="$(cd "$top" && pwd -P)"
fi
export IMPDIST_CUDA=1
echo "IMPDIST_CUDA_ARCHS=${IMPDIST_CUDA_ARCHS:-default} CUDA_HOME=${CUDA_HOME:-unset}"

# make skips the build while .venv/.build is newer than the sources, which would keep a build
# made without CUDA: drop the stamp so this build has the CUDA kernels.
rm -f .venv/.build
make install
.venv/bin/python - <<'PY'
import sys
from impdist.kernels._device import cuda_module
try:
    print(f"impdist.kernels._cuda: {cuda_module().device_count()} device(s)")
except RuntimeError as exc:
    sys.exit(f"gpu.sh: {exc}")
PY

# every kernel test runs the CUDA path beside the CPU one (tests/kernels/harness.py) when a GPU is usable
.venv/bin/python -m pytest tests/kernels -q -p no:cacheprovider
.venv/bin/python bench/bench_gpu.py "$@"
