"""impdist.serving.batcher without HTTP: which requests share a generate call, with which stream
keys, how failures stay with their request, the bounded queue and the drain on close."""
from __future__ import annotations

import threading

import pytest

from impdist.errors import ImpdistError
from impdist.serving.batcher import MicroBatcher, QueueFull
from impdist.serving.requests import RewriteRequest


class Recorder:
    """A generate() that answers text -> [text.upper()] and records each call; a text "boom" fails
    the call, and `gate` (when set) holds every call until it opens."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[dict] = []
        self.gate = gate

    def __call__(self, texts, *, task, stream_keys, **options):
        if self.gate is not None:
            self.gate.wait(10)
        self.calls.append({"texts": list(texts), "keys": list(stream_keys), "task": task, **options})
        if "boom" in texts:
            raise ImpdistError("boom cannot be rewritten")
        return [[t.upper()] for t in texts]


def req(*texts: str, task: str = "paraphrase", **options) -> RewriteRequest:
    return RewriteRequest(task, texts, tuple(sorted(options.items())))


def test_requests_with_equal_options_share_one_call_with_their_own_stream_keys():
    gen = Recorder()
    batcher = MicroBatcher(gen, max_batch=8, max_wait_s=0.3)
    futures = [batcher.submit(req("a", "b", seed=1)), batcher.submit(req("c", seed=1)),
               batcher.submit(req("d", seed=2)), batcher.submit(req("e", "f", seed=1))]
    assert [f.result(10) for f in futures] == [[["A"], ["B"]], [["C"]], [["D"]], [["E"], ["F"]]]
    batcher.close()
    assert gen.calls[0] == {"texts": ["a", "b", "c", "e", "f"], "keys": [0, 1, 0, 0, 1], "task": "paraphrase",
                            "seed": 1}
    assert gen.calls[1] == {"texts": ["d"], "keys": [0], "task": "paraphrase", "seed": 2}


def test_a_batch_holds_at_most_max_batch_sentences_unless_one_request_is_larger():
    gen = Recorder(gate := threading.Event())
    batcher = MicroBatcher(gen, max_batch=4, max_wait_s=0.0)
    first = batcher.submit(req("x"))  # holds the thread while the others queue
    while batcher.depth:  # until the thread took it
        pass
    futures = [batcher.submit(req("a", "b", "c")) for _ in range(3)] + [batcher.submit(req(*"abcdef"))]
    gate.set()
    for f in [first, *futures]:
        f.result(10)
    batcher.close()
    assert [len(c["texts"]) for c in gen.calls] == [1, 3, 3, 3, 6]


def test_a_failing_text_fails_its_own_request_only():
    gen = Recorder()
    batcher = MicroBatcher(gen, max_batch=8, max_wait_s=0.3)
    good, bad, other = batcher.submit(req("a")), batcher.submit(req("boom", "b")), batcher.submit(req("c"))
    assert good.result(10) == [["A"]] and other.result(10) == [["C"]]
    with pytest.raises(ImpdistError, match="boom"):
        bad.result(10)
    batcher.close()
    assert [c["texts"] for c in gen.calls] == [["a", "boom", "b", "c"], ["a"], ["boom", "b"], ["c"]]


def test_a_full_queue_refuses_and_close_drains_what_is_queued():
    gen = Recorder(gate := threading.Event())
    batcher = MicroBatcher(gen, max_batch=1, max_wait_s=0.0, max_queue=2)
    running = batcher.submit(req("a"))
    while batcher.depth:  # the thread took it and waits at the gate
        pass
    queued = [batcher.submit(req("b")), batcher.submit(req("c"))]
    with pytest.raises(QueueFull, match="holds 2 requests"):
        batcher.submit(req("d"))
    closer = threading.Thread(target=batcher.close)
    closer.start()
    gate.set()
    closer.join(10)
    assert [f.result(0) for f in [running, *queued]] == [[["A"]], [["B"]], [["C"]]]
    assert not batcher.alive
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(req("e"))
