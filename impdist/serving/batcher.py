"""Dynamic micro-batching: requests that arrive together are decoded together, by one worker thread.

A request waits in a bounded queue. The worker takes the oldest one, waits at most `max_wait_s`
for company (other requests with the same task and options), counted from its arrival or from the
end of the previous batch, whichever is later, then decodes up to `max_batch` sentences' worth of
such requests in one Paraphraser.generate call. While a batch decodes, new requests queue; the
wait after a batch lets the clients it just answered come back and join the queued ones, so
under steady load batches stay full instead of settling into two alternating halves. Every
text keys its random stream by its index within its own request (generate's stream_keys), so a
request's outputs do not depend on the requests it was batched with. When a merged batch fails
on a user error (a text too long for the model), each of its requests is decoded alone, so only
the one at fault fails. A full queue refuses at once (QueueFull) instead of growing.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Sequence

from impdist.errors import ImpdistError
from impdist.serving.requests import RewriteRequest

log = logging.getLogger(__name__)

# generate(texts, task=..., stream_keys=..., **options) -> one list of outputs per text
Generate = Callable[..., list[list[str]]]
# called after each decode with (requests in it, sentences in it, seconds it took)
OnBatch = Callable[[int, int, float], None]


class QueueFull(ImpdistError):
    """The decode queue holds its maximum of requests; the client should retry later."""


@dataclass
class _Pending:
    request: RewriteRequest
    future: Future
    arrived: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """A bounded queue of requests and the one thread that decodes them in batches."""

    def __init__(self, generate: Generate, *, max_batch: int = 32, max_wait_s: float = 0.005,
                 max_queue: int = 256, on_batch: OnBatch | None = None) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError(f"max_batch and max_queue must be >= 1 and max_wait_s >= 0, got {max_batch}, "
                             f"{max_queue}, {max_wait_s}")
        self._generate, self._on_batch = generate, on_batch
        self.max_batch, self.max_wait_s, self.max_queue = max_batch, max_wait_s, max_queue
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self.busy = False  # a batch is decoding
        self._free_since = 0.0  # monotonic time the last batch ended
        self._thread = threading.Thread(target=self._run, name="impdist-decode", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Requests waiting (not yet decoding)."""
        return len(self._queue)

    @property
    def alive(self) -> bool:
        """Whether the decode thread runs."""
        return self._thread.is_alive()

    def submit(self, request: RewriteRequest) -> Future:
        """Queue a request; its future resolves to one output list per text. QueueFull when the
        queue holds max_queue requests, RuntimeError once close() was called."""
        pending = _Pending(request, Future())
        with self._cond:
            if self._closing:
                raise RuntimeError("the decode queue is closed")
            if len(self._queue) >= self.max_queue:
                raise QueueFull(f"the decode queue holds {len(self._queue)} requests, its maximum")
            self._queue.append(pending)
            self._cond.notify()
        return pending.future

    def close(self, timeout: float | None = None) -> None:
        """Decode what is queued (without waiting for company), then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def _take(self) -> list[_Pending] | None:
        """The next batch: the oldest request and queued ones with its options, up to max_batch
        sentences, once they fill a batch or max_wait_s passed since it arrived or the last batch
        ended. None once closed and empty."""
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            first = self._queue[0]
            key = (first.request.task, first.request.options)
            since = max(first.arrived, self._free_since)
            while not self._closing:
                left = since + self.max_wait_s - time.monotonic()
                waiting = sum(len(p.request.texts) for p in self._queue if (p.request.task, p.request.options) == key)
                if left <= 0 or waiting >= self.max_batch:
                    break
                self._cond.wait(left)
            batch, sentences = [], 0
            for p in list(self._queue):
                if (p.request.task, p.request.options) == key and (
                        not batch or sentences + len(p.request.texts) <= self.max_batch):
                    batch.append(p)
                    sentences += len(p.request.texts)
                    self._queue.remove(p)
            self.busy = True
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._decode(batch)
            finally:
                self.busy = False
                self._free_since = time.monotonic()

    def _decode(self, batch: Sequence[_Pending]) -> None:
        """Decode a batch and resolve its futures; when it fails, decode each request alone, so
        only the one at fault (a text too long for the model, say) gets the error."""
        live = [p for p in batch if p.future.set_running_or_notify_cancel()]
        if len(live) > 1:
            try:
                outputs = self._timed(live)
            except Exception:  # noqa: BLE001 - retried request by request below
                pass
            else:
                for p, out in zip(live, outputs):
                    p.future.set_result(out)
                return
        for p in live:
            try:
                p.future.set_result(self._timed([p])[0])
            except Exception as e:  # noqa: BLE001 - handed to the waiting request, the thread goes on
                if not isinstance(e, ImpdistError):
                    log.exception("decoding a request failed")
                p.future.set_exception(e)

    def _timed(self, batch: Sequence[_Pending]) -> list[list[list[str]]]:
        """One generate call over the batch's texts, split back per request, reported to on_batch."""
        request = batch[0].request
        texts = [t for p in batch for t in p.request.texts]
        keys = [k for p in batch for k in range(len(p.request.texts))]
        start = time.perf_counter()
        flat = self._generate(texts, task=request.task, stream_keys=keys, **request.kwargs())
        if self._on_batch is not None:
            self._on_batch(len(batch), len(texts), time.perf_counter() - start)
        out, at = [], 0
        for p in batch:
            out.append(flat[at:at + len(p.request.texts)])
            at += len(p.request.texts)
        return out
