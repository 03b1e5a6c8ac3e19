"""Fixtures of the serving tests: the tiny student of tests/student, exported to ONNX once, and a
client that talks HTTP to a server started on 127.0.0.1 on a free port."""
from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.student.conftest import pairs_file, student_root, tiny_model, trained  # noqa: F401 - shared fixtures


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory) -> Path:  # noqa: F811 - the fixture imported above
    from impdist.student.export import export_student

    return export_student(trained, tmp_path_factory.mktemp("serving") / "export", evaluate=False, threads=1).out


@pytest.fixture(scope="session")
def student(exported):
    from impdist.student.serve import Paraphraser

    return Paraphraser.load(exported, threads=1)


class Client:
    """HTTP to one server: post/get return (status, headers, parsed JSON or text)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                timeout: float = 60) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, headers, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            status, headers, raw = e.code, dict(e.headers), e.read()
        kind = headers.get("content-type", "")
        return status, headers, json.loads(raw) if kind.startswith("application/json") else raw.decode()

    def post(self, path: str, body: bytes | dict, **kw) -> tuple[int, dict[str, str], Any]:
        return self.request("POST", path, body, **kw)

    def get(self, path: str, **kw) -> tuple[int, dict[str, str], Any]:
        return self.request("GET", path, **kw)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The /metrics samples, parsed by prometheus_client's own parser: {(name, labels): value}."""
        from prometheus_client.parser import text_string_to_metric_families

        status, _, text = self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def wait_until(self, predicate, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with contextlib.suppress(OSError):
                if predicate():
                    return
            time.sleep(0.02)
        raise AssertionError("the server never reached the state waited for")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(student, **config) -> Iterator[Client]:
    """A server for `student` (ServeConfig fields as keywords) in a thread, on a free port."""
    import uvicorn

    from impdist.serving.app import ServeConfig, create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = create_app(student, ServeConfig(**config))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    client = Client(f"http://127.0.0.1:{sock.getsockname()[1]}")
    try:
        client.wait_until(lambda: server.started)
        yield client
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert not app.state.batcher.alive, "the app's shutdown did not stop its decode thread"
