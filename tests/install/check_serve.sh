#!/usr/bin/env bash
# serve-test: proves the serving install of issue 20. From the wheel (IMPDIST_WHEEL, or one built
# here from a clean copy of the tree as check_wheel.sh builds it) it
#   1. installs `WHEEL[serve]` into a fresh venv (binary wheels only, no compiler) and checks that
#      neither torch nor transformers (nor optimum) came with it;
#   2. has the dev venv write a tiny exported student (tests/install/tiny_export.py: needs torch);
#   3. in the fresh venv: impdist.Paraphraser serves the export (greedy, sampled, extractive) without
#      importing torch or transformers, and `impdist paraphrase` answers;
#   4. starts `impdist serve EXPORT` there, asks it with curl as a user would
#      (curl -s localhost:PORT/v1/paraphrase -d '{"texts": [...]}'), checks /health and /metrics,
#      then SIGTERM: the server must exit cleanly.
# Environment: PY, the dev venv's python (default .venv/bin/python); IMPDIST_WHEEL, a built wheel
# to test instead of building one; IMPDIST_SERVE_TEST_KEEP=1 keeps the temporary folder.
# Needs PyPI (or a mirror) for the [serve] dependencies. Not a pytest module.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
[[ $PY == /* ]] || PY=$REPO/$PY
unset PYTHONPATH PYTHONHOME
start=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/impdist-serve-test.XXXXXX")
SERVER=
cleanup() {
  if [[ -n $SERVER ]] && kill -0 "$SERVER" 2>/dev/null; then kill "$SERVER"; fi
  if [[ ${IMPDIST_SERVE_TEST_KEEP:-0} == 1 ]]; then echo "serve-test: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
mkdir -p "$TMP/run"  # the working folder of every installed run: no impdist/ beside it

step() { printf 'serve-test: %s (%ds)\n' "$*" $((SECONDS - start)); }
fail() { echo "serve-test: FAIL: $*" >&2; exit 1; }
logged() {
  local log=$1; shift
  "$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; fail "$* (log above)"; }
}

[[ -x $PY ]] || fail "no dev venv at $PY: run make install first"
WHEEL=${IMPDIST_WHEEL:-}
if [[ -z $WHEEL ]]; then
  step "building the wheel from a clean copy"
  mkdir -p "$TMP/src"
  git -C "$REPO" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do if [[ -e $REPO/$f || -L $REPO/$f ]]; then printf '%s\0' "$f"; fi; done \
    | tar -C "$REPO" --null -T - -cf - | tar -C "$TMP/src" -xf -
  (cd "$TMP/src" && IMPDIST_CUDA=0 logged "$TMP/build.log" "$PY" -m build --wheel --outdir "$TMP/dist")
  WHEEL=$(ls "$TMP"/dist/*.whl)
fi
[[ -f $WHEEL ]] || fail "no wheel at $WHEEL"

step "installing $(basename "$WHEEL")[serve] into a fresh venv"
"$PY" -m venv "$TMP/venv"
V=$TMP/venv/bin
CC=false CXX=false logged "$TMP/install.log" "$V/python" -m pip install --only-binary=:all: "$WHEEL[serve]"
heavy=$("$V/python" -m pip list --format=freeze | grep -iE '^(torch|transformers|optimum[a-z0-9_-]*)==' || true)
[[ -z $heavy ]] || fail "the serving install pulled in: $(echo $heavy)"
size=$(du -sm "$TMP/venv" | cut -f1)

step "writing a tiny exported student with the dev venv"
(cd "$REPO" && PYTHONPATH=$REPO logged "$TMP/export.log" "$PY" tests/install/tiny_export.py "$TMP/export")

step "impdist.Paraphraser and impdist paraphrase in the serving venv"
(cd "$TMP/run" && "$V/python" - "$TMP/export" <<'PYEOF') || fail "the Python API in the serving venv (above)"
import sys
from impdist import Paraphraser
student = Paraphraser.load(sys.argv[1], threads=1)
texts = ["the city council voted on tuesday", "police arrested two men"]
assert all(isinstance(t, str) for t in student.paraphrase(texts))
assert [len(o) for o in student.paraphrase(texts, n=2, seed=1)] == [2, 2]
for text, short in zip(texts, student.summarize(texts, extractive=True)):
    assert set(short.split()) <= set(text.split()), (short, text)
loaded = sorted(m for m in ("torch", "transformers", "optimum") if m in sys.modules)
assert not loaded, f"the serving path imported {loaded}"
PYEOF
out=$(cd "$TMP/run" && echo "police arrested two men" | "$V/impdist" paraphrase --model "$TMP/export" --threads 1)
[[ $out == '{"src": "police arrested two men", "tgt": '* ]] || fail "impdist paraphrase printed: $out"

step "impdist serve, asked with curl"
PORT=$("$V/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$TMP/run" && exec "$V/impdist" serve "$TMP/export" --port "$PORT" --threads 1) >"$TMP/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do
  curl -sf "localhost:$PORT/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$TMP/serve.log" >&2; fail "impdist serve exited"; }
  sleep 0.2
done
answer=$(curl -s "localhost:$PORT/v1/paraphrase" -d '{"texts": ["the city council voted on tuesday"]}')
"$V/python" -c 'import json, sys; o = json.loads(sys.argv[1])["outputs"]; assert len(o) == 1 and isinstance(o[0], str)' \
  "$answer" || fail "POST /v1/paraphrase answered: $answer"
bad=$(curl -s -o /dev/null -w '%{http_code}' "localhost:$PORT/v1/paraphrase" -d '{"texts": [1]}')
[[ $bad == 422 ]] || fail "a malformed request got HTTP $bad, expected 422"
curl -sf "localhost:$PORT/metrics" | grep -q '^impdist_requests_total{endpoint="/v1/paraphrase",status="200"} 1.0$' \
  || fail "/metrics does not count the answered request"
kill -TERM "$SERVER"
rc=0; wait "$SERVER" || rc=$?
SERVER=
[[ $rc == 0 || $rc == 143 ]] || { cat "$TMP/serve.log" >&2; fail "impdist serve exited $rc after SIGTERM"; }
! grep -q Traceback "$TMP/serve.log" || { cat "$TMP/serve.log" >&2; fail "impdist serve printed a traceback"; }

echo "serve-test: ok (pip install '$(basename "$WHEEL")[serve]': ${size} MB venv, no torch or transformers;" \
  "Paraphraser, impdist paraphrase and impdist serve answered; $((SECONDS - start)) s)"
