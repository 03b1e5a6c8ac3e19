"""What an `impdist serve` operator sets: batching, the queue bound, per-request limits. Free of
the HTTP stack, so the command line reads its defaults at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field

from impdist.models.embedded import DEFAULT_EMBEDDER


@dataclass(frozen=True)
class Limits:
    """The most one request may ask: bytes of body, texts, characters per text, outputs per text
    (n) and best_of samples per text."""

    max_body_bytes: int = 1 << 20
    max_texts: int = 64
    max_chars: int = 2000
    max_n: int = 16
    max_best_of: int = 16


@dataclass(frozen=True)
class ServeConfig:
    """How the server batches and what it accepts: at most max_batch sentences per decode, a
    request waits at most max_wait_ms for company (from its arrival or the end of the last batch),
    at most max_queue requests wait (then 503 with Retry-After: retry_after_s), in-flight requests
    get graceful_s to finish after SIGTERM, `limits` per request, and `embedder` for best_of."""

    max_batch: int = 32
    max_wait_ms: int = 10
    max_queue: int = 256
    retry_after_s: int = 1
    graceful_s: float = 30.0
    limits: Limits = field(default_factory=Limits)
    embedder: str = DEFAULT_EMBEDDER
