"""`impdist serve` over real HTTP on 127.0.0.1: answers equal the in-process API, requests that
arrive together are decoded together, bad requests get a 4xx naming the field, a full queue a 503
with Retry-After, /health and /metrics report, and SIGTERM lets the requests in flight finish."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.serving.conftest import Client, free_port, running

TEXTS = ["the city council voted on tuesday", "police arrested two men", "heavy rain caused flooding across region",
         "shares of company fell sharply"]


def test_answers_equal_the_in_process_api(student):
    with running(student) as client:
        status, _, body = client.post("/v1/paraphrase", {"texts": TEXTS})
        assert status == 200 and body == {"outputs": student.paraphrase(TEXTS)}
        status, _, body = client.post("/v1/summarize", {"texts": TEXTS, "extractive": True, "compression": 0.6})
        assert status == 200 and body["outputs"] == student.summarize(TEXTS, extractive=True, compression=0.6)
        options = {"n": 2, "seed": 3, "temperature": 1.2, "top_p": 0.95, "diversity": 0.5}
        status, _, body = client.post("/v1/paraphrase", {"texts": TEXTS, **options})
        assert status == 200 and body["outputs"] == student.paraphrase(TEXTS, **options)
        assert all(len(o) == 2 for o in body["outputs"])


def test_requests_arriving_together_are_decoded_together_and_answered_as_if_alone(student):
    requests = [{"texts": TEXTS[i % 4 : i % 4 + 1 + i % 3], "sample": True, "seed": 5} for i in range(8)]
    alone = [student.paraphrase(r["texts"], sample=True, seed=5) for r in requests]
    with running(student, max_wait_ms=500) as client:
        with ThreadPoolExecutor(len(requests)) as pool:
            answers = list(pool.map(lambda r: client.post("/v1/paraphrase", r), requests))
        metrics = client.metrics()
    assert [a[0] for a in answers] == [200] * len(requests)
    assert [a[2]["outputs"] for a in answers] == alone  # each text samples its own stream, whatever its batch
    batches = metrics[("impdist_batch_requests_count", ())]
    assert batches < len(requests), "no two requests shared a batch"
    assert metrics[("impdist_batch_requests_sum", ())] == len(requests)
    assert metrics[("impdist_batch_sentences_sum", ())] == sum(len(r["texts"]) for r in requests)


BAD = [  # (path, body, status, field)
    ("/v1/paraphrase", b"{not json", 400, None),
    ("/v1/paraphrase", b'["a list"]', 400, None),
    ("/v1/paraphrase", {"text": ["a"]}, 422, "text"),
    ("/v1/paraphrase", {}, 422, "texts"),
    ("/v1/paraphrase", {"texts": "one string"}, 422, "texts"),
    ("/v1/paraphrase", {"texts": []}, 422, "texts"),
    ("/v1/paraphrase", {"texts": ["a", 3]}, 422, "texts[1]"),
    ("/v1/paraphrase", {"texts": ["a", "  "]}, 422, "texts[1]"),
    ("/v1/paraphrase", {"texts": ["a"] * 65}, 413, "texts"),
    ("/v1/paraphrase", {"texts": ["a" * 2001]}, 413, "texts[0]"),
    ("/v1/paraphrase", b'{"texts": ["' + b"a" * (1 << 20) + b'"]}', 413, None),
    ("/v1/paraphrase", {"texts": ["a"], "n": 0}, 422, "n"),
    ("/v1/paraphrase", {"texts": ["a"], "n": 17}, 413, "n"),
    ("/v1/paraphrase", {"texts": ["a"], "n": "2"}, 422, "n"),
    ("/v1/paraphrase", {"texts": ["a"], "top_p": 1.5}, 422, "top_p"),
    ("/v1/paraphrase", {"texts": ["a"], "temperature": 0}, 422, "temperature"),
    ("/v1/paraphrase", {"texts": ["a"], "seed": -1}, 422, "seed"),
    ("/v1/paraphrase", {"texts": ["a"], "extractive": "yes"}, 422, "extractive"),
    ("/v1/paraphrase", {"texts": ["a"], "diversity": "extreme"}, 422, "diversity"),
    ("/v1/paraphrase", {"texts": ["a"], "compression": -1}, 422, "compression"),
    ("/v1/paraphrase", {"texts": ["a"], "exemplar": " "}, 422, "exemplar"),
    ("/v1/paraphrase", {"texts": ["a"], "best_of": 4}, 422, "best_of"),
    ("/v1/summarize", {"texts": ["a"], "best_of": 4, "sample": True}, 422, None),
    ("/v1/paraphrase", {"texts": ["a"], "n": 2, "sample": False}, 422, None),
]


def test_malformed_and_oversized_requests_get_a_4xx_naming_the_field(student):
    with running(student) as client:
        for path, body, status, field in BAD:
            got, _, answer = client.post(path, body)
            assert (got, answer["field"]) == (status, field), (body if isinstance(body, dict) else body[:40], answer)
            assert answer["error"] and (field is None or field.split("[")[0] in answer["error"])
        for method, path, status in (("GET", "/v1/paraphrase", 405), ("POST", "/health", 405), ("GET", "/nope", 404)):
            got, _, answer = client.request(method, path, b"{}" if method == "POST" else None)
            assert got == status and "POST /v1/paraphrase" in answer["error"]
        status, _, body = client.post("/v1/paraphrase", {"texts": ["police arrested two men"]})
        assert status == 200 and client.get("/health")[0] == 200  # still healthy after all of them


def test_a_text_too_long_fails_alone_not_the_requests_batched_with_it(student):
    long = " ".join(["council budget"] * 120)  # 1800 characters, more tokens than the tiny student's 256 positions
    with running(student, max_wait_ms=500) as client:
        with ThreadPoolExecutor(2) as pool:
            bad, good = pool.map(lambda t: client.post("/v1/paraphrase", {"texts": t}), [[TEXTS[0], long], TEXTS])
    assert bad[0] == 422 and bad[2]["field"] == "texts[1]" and "positions" in bad[2]["error"]
    assert good[0] == 200 and good[2]["outputs"] == student.paraphrase(TEXTS)


def test_a_full_queue_answers_503_with_retry_after(student):
    with running(student, max_queue=1, max_wait_ms=1500) as client:
        first = threading.Thread(target=lambda: results.append(client.post("/v1/paraphrase", {"texts": TEXTS[:1]})))
        results: list = []
        first.start()
        client.wait_until(lambda: client.get("/health")[2]["queue_depth"] == 1)
        status, headers, body = client.post("/v1/paraphrase", {"texts": TEXTS[1:2]})
        assert status == 503 and headers["retry-after"] == "1" and "retry" in body["error"]
        first.join()
        assert results[0][0] == 200
        assert client.metrics()[("impdist_requests_total", (("endpoint", "/v1/paraphrase"), ("status", "503")))] == 1


def test_health_and_metrics_report_what_was_served(student):
    with running(student) as client:
        for texts in (TEXTS[:1], TEXTS):
            assert client.post("/v1/paraphrase", {"texts": texts})[0] == 200
        assert client.post("/v1/summarize", {"texts": TEXTS[:2]})[0] == 200
        assert client.post("/v1/summarize", {"texts": []})[0] == 422
        status, _, health = client.get("/health")
        assert status == 200 and health["status"] == "ok" and health["backend"] == "onnx" and health["queue_depth"] == 0
        m = client.metrics()
    para, summ = ("endpoint", "/v1/paraphrase"), ("endpoint", "/v1/summarize")
    assert m[("impdist_requests_total", (para, ("status", "200")))] == 2
    assert m[("impdist_requests_total", (summ, ("status", "200")))] == 1
    assert m[("impdist_requests_total", (summ, ("status", "422")))] == 1
    assert m[("impdist_sentences_total", (para,))] == 5 and m[("impdist_sentences_total", (summ,))] == 2
    assert m[("impdist_request_seconds_count", (para,))] == 2 and m[("impdist_request_seconds_sum", (para,))] > 0
    assert m[("impdist_batch_sentences_count", ())] == 3 and m[("impdist_queue_depth", ())] == 0
    assert m[("impdist_request_seconds_bucket", (para, ("le", "+Inf")))] == 2


def test_sigterm_lets_the_request_in_flight_finish(exported, student):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "impdist.cli", "serve", str(exported), "--port", str(port),
                               "--threads", "1", "--max-wait-ms", "1500"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    client = Client(f"http://127.0.0.1:{port}")
    try:
        client.wait_until(lambda: client.get("/health")[0] == 200, timeout=120)
        results: list = []
        request = threading.Thread(target=lambda: results.append(client.post("/v1/paraphrase", {"texts": TEXTS})))
        request.start()
        client.wait_until(lambda: client.get("/health")[2]["queue_depth"] == 1)  # waiting in the queue
        server.send_signal(signal.SIGTERM)
        request.join(60)
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert results and results[0][0] == 200, output
    assert results[0][2]["outputs"] == student.paraphrase(TEXTS)
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Shutting down" in output and "Traceback" not in output
    with pytest.raises(OSError):
        client.get("/health", timeout=5)


def test_without_its_embedder_the_server_refuses_best_of_by_name_and_serves_the_rest(student):
    with running(student, embedder="no-such-embedder") as client:
        status, _, body = client.post("/v1/summarize", {"texts": TEXTS[:1], "best_of": 4})
        assert (status, body["field"]) == (422, "best_of") and "no-such-embedder" in body["error"]
        assert client.post("/v1/summarize", {"texts": TEXTS[:1]})[0] == 200
