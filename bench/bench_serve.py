"""`impdist serve` under concurrent clients, beside the in-process batch API on the same sentences.

1. Cold start, in each install given (this interpreter, and every --cold-start LABEL=PYTHON, e.g.
   a venv with `pip install '.[serve]'`): seconds to `from impdist import Paraphraser`, to load the
   export, and to the first answer, each in a fresh process, and whether torch/transformers loaded.
2. Throughput: the first --sentences MRPC dev sentences (impdist/data/mrpc_dev.jsonl) paraphrased
   greedily (a) in process, Paraphraser.paraphrase(sentences, batch_size=--max-batch), and (b) by
   1, 8 and 32 concurrent clients on localhost, one sentence per request over keep-alive
   connections, against `impdist serve` in its own process (--max-batch, --max-wait-ms). Per level:
   requests/s, sentences/s, p50/p99 latency, and the ratio of the server's sentences/s to the
   in-process API's on the same sentences (best of --repeat, the two taking turns). Level c uses
   the first min(--sentences, c * --per-client) sentences.
3. Load: --load-requests requests from 32 clients, --malformed of them malformed (bad JSON, wrong
   types, unknown fields, out-of-range options, too many texts, an oversized body, a blank text,
   a GET): every well-formed one must come back 200, every malformed one a 4xx, and /health must
   answer 200 after.
Each answer is also compared with the in-process API's for its sentence, alone and at batch 32;
the share that differs from both is reported, not failed: on a real student a row's last bits
depend on the batch it runs in (padding, the rows beside it; int8's MatMulNBits more than fp32),
in process too, which flips near-ties (SmolLM2: fp32 1 of 64 sentences, int8 4 of 16 between batch
1 and 32). tests/serving checks exact equality on the tiny fp32 student, where it holds.

Prints a table, then one JSON line per row (bench, n, ours_per_s = the server's sentences/s,
peer_per_s = the in-process API's, ratio, p50/p99). Exits non-zero when a check fails.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

from common import Report, read_jsonl

COLD_START = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from impdist import Paraphraser
    t1 = time.perf_counter()
    student = Paraphraser.load(sys.argv[1], threads=int(sys.argv[2]) if sys.argv[2] != "0" else None)
    t2 = time.perf_counter()
    student.paraphrase([sys.argv[3]])
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_answer_s": t3 - t2, "total_s": t3 - t0,
                      "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                      "tokenizer": type(student.tokenizer).__name__}))
""")


def cold_start(python: str, model: str, threads: int | None, sentence: str) -> dict:
    """Import, load and first-answer seconds of a fresh process of `python` (run outside the repo,
    so an installed impdist is the one imported unless PYTHONPATH says otherwise)."""
    out = subprocess.run([python, "-c", COLD_START, model, str(threads or 0), sentence], capture_output=True,
                         text=True, cwd="/", timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"cold start under {python} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


class Connection:
    """One keep-alive HTTP/1.1 connection to the server, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def send(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict | None]:
        self.conn.request(method, path, body, {"Content-Type": "application/json"} if body is not None else {})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, None


def start_server(model: str, args) -> tuple[subprocess.Popen, int]:
    """`impdist serve` in its own process on a free port, once /health answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "impdist.cli", "serve", model, "--port", str(port), "--max-batch", str(args.max_batch),
           "--max-queue", "1024"]
    if args.max_wait_ms is not None:
        cmd += ["--max-wait-ms", str(args.max_wait_ms)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"impdist serve exited:\n{proc.stderr.read()[-2000:]}")
        try:
            if Connection(port).send("GET", "/health")[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit("impdist serve did not answer /health within 300 s")


def run_clients(port: int, clients: int, bodies: list[tuple[str, str, bytes | None]]) -> tuple[list, float]:
    """Send every (method, path, body) from `clients` threads, each over its own connection;
    returns [(status, answer, seconds)] in input order and the wall time."""
    results: list = [None] * len(bodies)
    work = iter(range(len(bodies)))
    lock = threading.Lock()

    def client() -> None:
        conn = Connection(port)
        while True:
            with lock:
                i = next(work, None)
            if i is None:
                return
            start = time.perf_counter()
            try:
                status, answer = conn.send(*bodies[i])
            except OSError as e:  # counted as a failure below
                status, answer = 0, {"error": repr(e)}
                conn = Connection(port)
            results[i] = (status, answer, time.perf_counter() - start)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - start


def request(text: str) -> tuple[str, str, bytes]:
    return "POST", "/v1/paraphrase", json.dumps({"texts": [text]}).encode()


MALFORMED: list[tuple[str, str, bytes | None]] = [
    ("POST", "/v1/paraphrase", b"{not json"),
    ("POST", "/v1/paraphrase", b'"texts"'),
    ("POST", "/v1/paraphrase", b'{"texts": "one string"}'),
    ("POST", "/v1/paraphrase", b'{"texts": ["fine", 7]}'),
    ("POST", "/v1/paraphrase", b'{"texts": ["fine"], "temprature": 0.5}'),
    ("POST", "/v1/paraphrase", b'{"texts": ["fine"], "n": 0}'),
    ("POST", "/v1/paraphrase", b'{"texts": ["fine"], "top_p": 2}'),
    ("POST", "/v1/paraphrase", json.dumps({"texts": ["fine"] * 1000}).encode()),
    ("POST", "/v1/paraphrase", b'{"texts": ["' + b"x" * (1 << 20) + b'"]}'),
    ("POST", "/v1/paraphrase", b'{"texts": [" "]}'),
    ("POST", "/v1/summarize", b'{"texts": ["fine"], "best_of": 0}'),
    ("GET", "/v1/paraphrase", None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="runs/default/student-onnx-int8",
                    help="an `impdist export` folder (default: %(default)s)")
    ap.add_argument("--sentences", type=int, default=256, help="MRPC sentences (default: %(default)s)")
    ap.add_argument("--clients", default="1,8,32", help="concurrency levels (default: %(default)s)")
    ap.add_argument("--per-client", type=int, default=16,
                    help="sentences per client at each level, up to --sentences (default: %(default)s)")
    ap.add_argument("--max-batch", type=int, default=32, help="server and in-process batch (default: %(default)s)")
    ap.add_argument("--max-wait-ms", type=int, default=None, help="the server's batching wait (default: its own)")
    ap.add_argument("--load-requests", type=int, default=2000, help="requests of the load run (default: %(default)s)")
    ap.add_argument("--malformed", type=float, default=0.1, help="malformed share of them (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed runs per level, server and in-process taking turns; the best counts (default: %(default)s)")
    ap.add_argument("--cold-start", action="append", default=[], metavar="LABEL=PYTHON",
                    help="also time a cold start under this interpreter (repeatable)")
    args = ap.parse_args()
    model = str(Path(args.model).resolve())
    sentences = [r["src"] for r in read_jsonl("mrpc_dev.jsonl")][: args.sentences]
    failures: list[str] = []
    report = Report()

    print("cold start: import / load / first answer (a fresh process each)")
    for label, python in [("this install", sys.executable)] + [tuple(c.split("=", 1)) for c in args.cold_start]:
        c = cold_start(python, model, args.threads, sentences[0])
        print(f"  {label:<14} import {c['import_s']:5.2f} s  load {c['load_s']:5.2f} s  first answer "
              f"{c['first_answer_s']:5.2f} s  total {c['total_s']:5.2f} s  torch: {c['torch']}  "
              f"transformers: {c['transformers']}  tokenizer: {c['tokenizer']}", flush=True)
        report.rows.append({"bench": "cold_start", "install": label, "python": python,
                            **{k: round(v, 3) if isinstance(v, float) else v for k, v in c.items()}})

    from impdist.student.serve import Paraphraser  # the in-process peer, in this interpreter

    student = Paraphraser.load(model, threads=args.threads)
    student.paraphrase(sentences[:2])  # warm
    levels = [int(c) for c in args.clients.split(",")]
    subsets = {c: sentences[: min(len(sentences), c * args.per_client)] for c in levels}
    # The answer each sentence gets alone (batch 1) and among others (batch 32): a served answer that
    # is neither is counted, not failed (a row's last bits depend on its batch; see the docstring).
    alone = dict(zip(sentences, student.paraphrase(sentences, batch_size=1)))
    together = dict(zip(sentences, student.paraphrase(sentences, batch_size=args.max_batch)))

    def answered(result: tuple) -> bool:
        return result[0] == 200 and len(result[1]["outputs"]) == 1 and isinstance(result[1]["outputs"][0], str)

    def correct(result: tuple, text: str) -> bool:
        return answered(result) and result[1]["outputs"][0] in (alone[text], together[text])

    proc, port = start_server(model, args)
    try:
        print(f"\n{'clients':>7}{'n':>6}{'req/s':>9}{'sent/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
              f"{'in-process sent/s':>19}{'ratio':>8}", flush=True)
        in_process: dict[int, float] = {}
        for c in levels:
            subset = subsets[c]
            best_wall, best_in = float("inf"), float("inf")
            for _ in range(args.repeat):  # the two take turns, so both meet the machine's load alike
                start = time.perf_counter()
                student.paraphrase(subset, batch_size=args.max_batch)
                best_in = min(best_in, time.perf_counter() - start)
                run, wall = run_clients(port, c, [request(t) for t in subset])
                if wall < best_wall:
                    results, best_wall = run, wall
            in_process[c] = len(subset) / best_in
            latencies = np.array([r[2] for r in results]) * 1000
            wrong = sum(not correct(r, t) for r, t in zip(results, subset))
            if not all(answered(r) for r in results):
                failures.append(f"{c} clients: not every request was answered with one output")
            rate = len(subset) / best_wall
            p50, p99 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))
            print(f"{c:>7}{len(subset):>6}{rate:>9.2f}{rate:>9.2f}{p50:>9.0f}{p99:>9.0f}{in_process[c]:>19.2f}"
                  f"{rate / in_process[c]:>8.2f}", flush=True)
            report.rows.append({"bench": f"serve_c{c}", "n": len(subset), "ours_per_s": round(rate, 2),
                                "peer_per_s": round(in_process[c], 2), "ratio": round(rate / in_process[c], 3),
                                "peer": f"Paraphraser.paraphrase(batch_size={args.max_batch}) in process",
                                "requests_per_s": round(rate, 2), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
                                "differ_from_in_process": wrong})

        malformed_every = round(1 / args.malformed) if args.malformed > 0 else 0
        bodies, kinds = [], []
        bad = itertools.cycle(MALFORMED)
        good = itertools.cycle(sentences)
        for i in range(args.load_requests):
            if malformed_every and i % malformed_every == malformed_every - 1:
                bodies.append(next(bad))
                kinds.append(None)
            else:
                text = next(good)
                bodies.append(request(text))
                kinds.append(text)
        results, wall = run_clients(port, 32, bodies)
        ok = sum(1 for r, t in zip(results, kinds) if t is not None and answered(r))
        same = sum(1 for r, t in zip(results, kinds) if t is not None and correct(r, t))
        well_formed = sum(t is not None for t in kinds)
        refused = sum(1 for r, t in zip(results, kinds) if t is None and 400 <= r[0] < 500)
        malformed = len(kinds) - well_formed
        health = Connection(port).send("GET", "/health")[0]
        unexpected = {r[0] for r, t in zip(results, kinds) if r[0] != (200 if t is not None else r[0])
                      or (t is None and not 400 <= r[0] < 500)}
        print(f"\nload: {len(bodies)} requests from 32 clients in {wall:.1f} s; well-formed answered {ok}/{well_formed}, "
              f"with the in-process answer (alone or at batch {args.max_batch}) {same}/{well_formed}; "
              f"malformed refused with a 4xx {refused}/{malformed}; /health after: {health}"
              + (f"; unexpected statuses {sorted(unexpected)}" if unexpected else ""), flush=True)
        if ok != well_formed or refused != malformed or health != 200:
            failures.append("the load run: a well-formed request went unanswered, a malformed one got no 4xx, "
                            "or the server is unhealthy")
        report.rows.append({"bench": "serve_load", "n": len(bodies), "well_formed": well_formed, "answered_200": ok,
                            "same_as_in_process": same, "malformed": malformed,
                            "refused_4xx": refused, "health_after": health, "seconds": round(wall, 1)})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        del student
    print()
    report.emit_json()
    if failures:
        raise SystemExit("FAIL: " + "; ".join(failures))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
