#!/usr/bin/env bash
# wheel-test (`make wheel-test`): proves that impdist installs as a user gets it, not only as the
# editable dev install. From a clean copy of the working tree (tracked and untracked files, not
# ignored ones: what a fresh clone would hold) it
#   1. builds the wheel with `python -m build --wheel` (isolated: pip fetches setuptools and pybind11)
#      and checks it holds the compiled core (_core, and _cuda when nvcc is here or IMPDIST_CUDA=1),
#      py.typed, the .pyi stubs and every impdist/data file, and nothing outside the package;
#   2. installs it into a fresh venv with --only-binary=:all: and CC=false CXX=false, so nothing
#      is compiled there (numpy and click come as wheels), and checks that none of torch,
#      transformers, onnxruntime, faiss came with it;
#   3. runs tests/install/kernel_numbers.py (every public impdist.kernels function on fixed
#      sentences, non-ASCII and empty ones included) there and in the dev venv, from a temporary
#      folder so the source tree cannot shadow the installed package, and compares the JSON byte
#      for byte;
#   4. runs `impdist --version`, and `impdist generate` without the [models] extra, which must fail
#      with one line on stderr naming `pip install 'impdist[models]'`, no traceback, and no --out;
#   5. unless IMPDIST_WHEEL_TEST_PIP_INSTALL=0: `pip install <clean copy>` (what `pip install .`
#      does: a PEP 517 build from source) into a second fresh venv: no torch, transformers,
#      onnxruntime, faiss there either, and the same numbers.
#   6. with IMPDIST_WHEEL_TEST_SERVE=1, tests/install/check_serve.sh on the same wheel (the [serve] install).
# Environment: PY, the dev venv's python (default .venv/bin/python; it needs the `build` package,
# in the [dev] extra); IMPDIST_CUDA as for setup.py (unset: CUDA built when nvcc is found);
# IMPDIST_WHEEL_TEST_KEEP=1 keeps the temporary folder. Not a pytest module.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
[[ $PY == /* ]] || PY=$REPO/$PY
unset PYTHONPATH PYTHONHOME
start=$SECONDS

TMP=$(mktemp -d "${TMPDIR:-/tmp}/impdist-wheel-test.XXXXXX")
if [[ ${IMPDIST_WHEEL_TEST_KEEP:-0} == 1 ]]; then
  trap 'echo "wheel-test: kept $TMP"' EXIT
else
  trap 'rm -rf "$TMP"' EXIT
fi
mkdir -p "$TMP/run"  # the working folder of every installed run: no impdist/ beside it

step() { printf 'wheel-test: %s (%ds)\n' "$*" $((SECONDS - start)); }
fail() { echo "wheel-test: FAIL: $*" >&2; exit 1; }
# Run a logged command; on failure show the log's end.
logged() {
  local log=$1; shift
  "$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; fail "$* (log above)"; }
}
# Copy what a fresh clone of the working tree would hold (files deleted in the tree are left out).
clean_copy() {
  mkdir -p "$1"
  git -C "$REPO" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do if [[ -e $REPO/$f || -L $REPO/$f ]]; then printf '%s\0' "$f"; fi; done \
    | tar -C "$REPO" --null -T - -cf - | tar -C "$1" -xf -
}

[[ -x $PY ]] || fail "no dev venv at $PY: run make install first"
"$PY" -c 'import build' 2>/dev/null || fail "$PY has no 'build' package: pip install build (it is in the [dev] extra)"

# 1. The wheel.
step "building the wheel from a clean copy (IMPDIST_CUDA=${IMPDIST_CUDA:-auto})"
clean_copy "$TMP/src"
(cd "$TMP/src" && logged "$TMP/build.log" "$PY" -m build --wheel --outdir "$TMP/dist")
wheels=("$TMP"/dist/*.whl)
[[ ${#wheels[@]} == 1 && -f ${wheels[0]} ]] || fail "expected one wheel in $TMP/dist, got: ${wheels[*]}"
WHEEL=${wheels[0]}
WHEEL_NAME=$(basename "$WHEEL")
case ${IMPDIST_CUDA:-} in  # setup.py's rule: 1 insists, 0 skips, unset builds it when nvcc is found
  1) want_cuda=1 ;;
  0) want_cuda=0 ;;
  *) want_cuda=0
     if command -v nvcc >/dev/null || [[ -x ${CUDA_HOME:-${CUDA_PATH:-/nonexistent}}/bin/nvcc ]]; then want_cuda=1; fi ;;
esac
HAS_CUDA=$("$PY" - "$WHEEL" "$TMP/src" "$want_cuda" <<'EOF'
import sys, zipfile
from pathlib import Path

wheel, src, want_cuda = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
names = set(zipfile.ZipFile(wheel).namelist())
problems = []
def need(pattern):
    if not any(Path(n).match(pattern) for n in names):
        problems.append(f"no {pattern}")
need("impdist/kernels/_core.*.so")
need("impdist/py.typed")
for stub in sorted(src.glob("impdist/**/*.pyi")):
    need(str(stub.relative_to(src)))
data = [p for p in sorted((src / "impdist/data").iterdir()) if p.is_file()]
if not any(p.suffix != ".py" for p in data):
    problems.append("impdist/data has no data files in the source tree")
for p in data:
    need(str(p.relative_to(src)))
has_cuda = any(Path(n).match("impdist/kernels/_cuda.*.so") for n in names)
if has_cuda != want_cuda:
    problems.append(f"_cuda extension {'present' if has_cuda else 'absent'}, expected {'present' if want_cuda else 'absent'}")
stray = sorted(n for n in names if not n.startswith(("impdist/", "impdist-")))
if stray:
    problems.append(f"files outside the package: {stray[:5]}")
if problems:
    sys.exit("wheel-test: FAIL: " + wheel + ": " + "; ".join(problems))
print("yes" if has_cuda else "no")
EOF
)
step "built $WHEEL_NAME ($(du -h "$WHEEL" | cut -f1), CUDA extension: $HAS_CUDA)"

# 2. A fresh venv (from the dev venv's interpreter, so the wheel's tag fits), binary installs only.
step "installing the wheel into a fresh venv (--only-binary=:all:, CC=false CXX=false)"
"$PY" -m venv "$TMP/venv"
V=$TMP/venv/bin
CC=false CXX=false logged "$TMP/install.log" "$V/python" -m pip install --only-binary=:all: "$WHEEL"
heavy=$("$V/python" -m pip list --format=freeze | grep -iE '^(torch|transformers|onnxruntime[a-z0-9_-]*|faiss[a-z0-9_-]*)==' || true)
[[ -z $heavy ]] || fail "the core install pulled in: $(echo $heavy)"
where=$(cd "$TMP/run" && "$V/python" -c 'import impdist; print(impdist.__file__)')
[[ $where == "$TMP/venv/"* ]] || fail "the fresh venv imported impdist from $where"
if [[ $HAS_CUDA == yes ]]; then
  (cd "$TMP/run" && "$V/python" -c 'import impdist.kernels._cuda') || fail "the wheel's _cuda extension does not import"
fi

# 3. The same numbers from the wheel and from the editable install.
step "comparing every kernel's numbers: wheel vs editable install"
cp "$REPO/tests/install/kernel_numbers.py" "$TMP/run/"
numbers() {  # numbers NAME PYTHON: kernel_numbers.py's JSON in $TMP/NAME.json
  (cd "$TMP/run" && "$2" kernel_numbers.py >"$TMP/$1.json" 2>"$TMP/$1.err") \
    || { cat "$TMP/$1.err" >&2; fail "kernel_numbers.py failed under $1"; }
}
same() {  # same A B: byte-identical outputs, else the first differences
  cmp -s "$TMP/$1.json" "$TMP/$2.json" && return 0
  diff "$TMP/$1.json" "$TMP/$2.json" | head -n 20 >&2
  fail "kernel numbers differ between $1 and $2 (diff above)"
}
numbers wheel "$V/python"
numbers editable "$PY"
same wheel editable
KERNELS=$("$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/wheel.json")
compared="wheel, editable"

# 4. The command without its extras.
step "impdist --version, and impdist generate without [models]"
version=$(cd "$TMP/run" && "$V/impdist" --version)
want_version=$("$V/python" -c 'import impdist; print(impdist.__version__)')
[[ $version == *"$want_version"* ]] || fail "impdist --version printed '$version', expected $want_version"
rc=0
(cd "$TMP/run" && "$V/impdist" generate --contexts 2 --out "$TMP/x") >"$TMP/gen.out" 2>"$TMP/gen.err" || rc=$?
gen_err=$(cat "$TMP/gen.err")
[[ $rc != 0 ]] || fail "impdist generate without [models] exited 0"
[[ $(grep -c '' "$TMP/gen.err") == 1 ]] || fail "impdist generate: expected one line on stderr, got: $gen_err"
grep -qF "pip install 'impdist[models]'" "$TMP/gen.err" || fail "impdist generate: stderr does not name pip install 'impdist[models]': $gen_err"
! grep -q Traceback "$TMP/gen.err" "$TMP/gen.out" || fail "impdist generate printed a traceback"
[[ ! -e $TMP/x ]] || fail "impdist generate created its --out folder although it failed"

# 5. pip install of the source folder (PEP 517 build by pip), into a second fresh venv.
if [[ ${IMPDIST_WHEEL_TEST_PIP_INSTALL:-1} != 0 ]]; then
  step "pip install <clean copy> into a second fresh venv"
  clean_copy "$TMP/src2"
  "$PY" -m venv "$TMP/venv2"
  logged "$TMP/install2.log" "$TMP/venv2/bin/python" -m pip install "$TMP/src2"
  heavy=$("$TMP/venv2/bin/python" -m pip list --format=freeze | grep -iE '^(torch|transformers|onnxruntime[a-z0-9_-]*|faiss[a-z0-9_-]*)==' || true)
  [[ -z $heavy ]] || fail "pip install . pulled in: $(echo $heavy)"
  where=$(cd "$TMP/run" && "$TMP/venv2/bin/python" -c 'import impdist; print(impdist.__file__)')
  [[ $where == "$TMP/venv2/"* ]] || fail "the pip-install venv imported impdist from $where"
  numbers pip_install "$TMP/venv2/bin/python"
  same wheel pip_install
  compared="$compared, pip install ."
fi

# 6. With IMPDIST_WHEEL_TEST_SERVE=1: the serving install of the same wheel (tests/install/check_serve.sh:
#    WHEEL[serve] in a third fresh venv, no torch or transformers, `impdist serve` asked with curl).
if [[ ${IMPDIST_WHEEL_TEST_SERVE:-0} == 1 ]]; then
  step "the serving install: tests/install/check_serve.sh on this wheel"
  IMPDIST_WHEEL=$WHEEL PY=$PY bash "$REPO/tests/install/check_serve.sh" || fail "check_serve.sh (above)"
  compared="$compared; serving install checked"
fi

echo "wheel-test: ok ($WHEEL_NAME, $(du -h "$WHEEL" | cut -f1), CUDA extension: $HAS_CUDA;" \
  "$KERNELS kernels identical across $compared; $((SECONDS - start)) s)"
