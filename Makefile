# impdist: the two commands of the README are `make run` and `make test`; both install first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Only the CPU wheel of torch lies on local disk; a loose requirement would pull a CUDA build.
TORCH := torch==2.13.0
CSRC := $(shell find csrc -name '*.cpp' -o -name '*.h' -o -name '*.cu')

.PHONY: install build test parity bench run asan-test clean

install: $(VENV)/.deps $(VENV)/.build

# Dependencies: reinstalled only when the project's metadata changes.
$(VENV)/.deps: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel pybind11
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet --no-build-isolation -e '.[dev]'
	touch $@

# The compiled core: rebuilt in place when a C++/CUDA source changes.
$(VENV)/.build: $(VENV)/.deps $(CSRC)
	$(PY) setup.py --quiet build_ext --inplace
	touch $@

build: $(VENV)/.build

test: install
	$(PY) -m pytest -q

# The full parity run of the Foundation issue: 100,000 hypothesis examples per property.
parity: install
	IMPDIST_HYPOTHESIS_EXAMPLES=100000 $(PY) -m pytest -q tests/kernels -p no:cacheprovider

bench: install
	$(PY) bench/bench_kernels.py

# Until the pipeline exists, the main job is the kernel benchmark.
run: install
	@echo "impdist: the pipeline is not built yet; 'make run' runs the kernel benchmark (bench/bench_kernels.py)."
	$(PY) bench/bench_kernels.py --quick

# Kernel tests against an AddressSanitizer build of the core (built in build/asan, not in place).
asan-test: install
	rm -rf build/asan && IMPDIST_ASAN=1 IMPDIST_CUDA=0 $(PY) setup.py --quiet build_ext --build-lib build/asan --build-temp build/asan-tmp
	cp -r impdist build/asan/impdist-src && cp build/asan/impdist/kernels/_core*.so build/asan/impdist-src/kernels/
	rm -rf build/asan/pkg && mkdir -p build/asan/pkg && mv build/asan/impdist-src build/asan/pkg/impdist
	ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=$$($(CXX) -print-file-name=libasan.so) \
	  PYTHONPATH=build/asan/pkg IMPDIST_REQUIRE_ASAN=1 $(PY) -m pytest -q -p no:cacheprovider tests/kernels

clean:
	rm -rf build $(VENV) impdist/kernels/*.so *.egg-info
