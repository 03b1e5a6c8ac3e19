"""The server's Prometheus metrics (GET /metrics, text format): requests by endpoint and status,
sentences answered, batch sizes, request latency, queue depth. Each server has its own registry,
so several servers (tests) live in one process; prometheus_client writes the exposition format."""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

disable_created_metrics()  # no *_created series: a scrape shows what the service did, not when each began

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Request latency, seconds: a short sentence on a CPU takes tens of milliseconds, a full batch seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    """The metrics of one server; queue_depth is read when scraped."""

    def __init__(self, queue_depth: Callable[[], int], decoding: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("impdist_requests", "HTTP requests answered, by endpoint and status code.",
                                ["endpoint", "status"], registry=self.registry)
        self.sentences = Counter("impdist_sentences", "Sentences rewritten, by endpoint.", ["endpoint"],
                                 registry=self.registry)
        self.latency = Histogram("impdist_request_seconds", "Time from a request's arrival to its answer, by endpoint.",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_sentences = Histogram("impdist_batch_sentences", "Sentences per decoded batch.",
                                         buckets=SIZE_BUCKETS, registry=self.registry)
        self.batch_requests = Histogram("impdist_batch_requests", "Requests per decoded batch.",
                                        buckets=SIZE_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("impdist_batch_seconds", "Time to decode one batch.",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        Gauge("impdist_queue_depth", "Requests waiting to be decoded.",
              registry=self.registry).set_function(queue_depth)
        Gauge("impdist_decoding", "1 while a batch decodes, else 0.",
              registry=self.registry).set_function(lambda: int(decoding()))

    def on_batch(self, requests: int, sentences: int, seconds: float) -> None:
        """Record one decoded batch (impdist.serving.batcher's on_batch)."""
        self.batch_requests.observe(requests)
        self.batch_sentences.observe(sentences)
        self.batch_seconds.observe(seconds)

    def on_response(self, endpoint: str, status: int, seconds: float, sentences: int = 0) -> None:
        """Record one answered request."""
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if sentences:
            self.sentences.labels(endpoint).inc(sentences)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
