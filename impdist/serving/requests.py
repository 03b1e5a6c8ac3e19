"""What `impdist serve` accepts: a JSON object {"texts": [...], options...} per request, checked
before it reaches the decode queue, with the field named in every refusal.

The options are those of `impdist paraphrase` / `impdist summarize` that shape one request's
outputs (n, compression, diversity, exemplar, extractive, sample, temperature, top_p, seed, and
best_of for summaries), checked against the same impdist.domains as the command line. What
belongs to the server (the model, backend, threads, batch size, the embedder) is set when it
starts. impdist.serving.config.Limits keeps one request from holding the decoder for long.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from impdist.domains import COMPRESSION, DIVERSITY, POSITIVE, SEED, UNIT, Domain
from impdist.errors import ImpdistError
from impdist.serving.config import Limits


class RequestError(ImpdistError):
    """A request the server refuses: the HTTP status, the field at fault (None: the whole body)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field

    def body(self) -> dict[str, Any]:
        """The JSON error body: {"error": message, "field": name or null}."""
        return {"error": str(self), "field": self.field}


@dataclass(frozen=True)
class RewriteRequest:
    """A checked request: the task, its texts, and the keyword arguments of Paraphraser.generate."""

    task: str
    texts: tuple[str, ...]
    options: tuple[tuple[str, Any], ...]  # sorted (name, value): equal options decode together

    def kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments of Paraphraser.generate."""
        return dict(self.options)


# option -> the impdist.domains domain its numbers must lie in (the command line checks the same).
_NUMBERS: dict[str, Domain] = {"temperature": POSITIVE, "top_p": UNIT, "seed": SEED}
_LABELLED: dict[str, Domain] = {"compression": COMPRESSION, "diversity": DIVERSITY}
_FLAGS = ("extractive", "sample")
_COUNTS = ("n", "best_of")


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; RequestError 400 when it is not one."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestError(400, f"the body is not valid JSON ({e}); send an object such as "
                                '{"texts": ["A sentence."]}') from None
    if not isinstance(value, dict):
        raise RequestError(400, f"the body must be a JSON object such as {{\"texts\": [\"A sentence.\"]}}, got "
                                f"{type(value).__name__}")
    return value


def check_request(body: Mapping[str, Any], task: str, limits: Limits) -> RewriteRequest:
    """A RewriteRequest from a parsed body; RequestError (422 for a bad value, 413 for too much)
    naming the first field at fault."""
    allowed = {"texts", *_NUMBERS, *_LABELLED, *_FLAGS, *_COUNTS, "exemplar"} - ({"best_of"} if task != "summary"
                                                                                  else set())
    unknown = sorted(set(body) - allowed)
    if unknown:
        hint = " (best_of chooses among summaries: POST /v1/summarize)" if unknown[0] == "best_of" else ""
        raise RequestError(422, f"unknown field {unknown[0]!r}{hint}; allowed: {', '.join(sorted(allowed))}",
                           unknown[0])
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts:
        raise RequestError(422, "texts must be a non-empty list of strings, got "
                                f"{'an empty list' if texts == [] else type(texts).__name__}", "texts")
    if len(texts) > limits.max_texts:
        raise RequestError(413, f"texts holds {len(texts)} texts; at most {limits.max_texts} per request", "texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise RequestError(422, f"texts[{i}] must be a string, got {type(text).__name__}", f"texts[{i}]")
        if not text.strip():
            raise RequestError(422, f"texts[{i}] is blank; send sentences only", f"texts[{i}]")
        if len(text) > limits.max_chars:
            raise RequestError(413, f"texts[{i}] is {len(text)} characters; at most {limits.max_chars}",
                               f"texts[{i}]")
    options: dict[str, Any] = {}
    for name, domain in _NUMBERS.items():
        if body.get(name) is not None:
            options[name] = _checked(domain, body[name], name)
    for name, domain in _LABELLED.items():  # a number picks the bucket; a string is a code label
        value = body.get(name)
        if value is not None:
            options[name] = value if isinstance(value, str) else _checked(domain, value, name)
    for name in _FLAGS:
        if body.get(name) is not None:
            if not isinstance(body[name], bool):
                raise RequestError(422, f"{name} must be true or false, got {body[name]!r}", name)
            options[name] = body[name]
    for name, most in (("n", limits.max_n), ("best_of", limits.max_best_of)):
        if body.get(name) is not None:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
                raise RequestError(422 if not isinstance(value, int) or value < 1 else 413,
                                   f"{name} must be an integer from 1 to {most}, got {value!r}", name)
            options[name] = value
    if body.get("exemplar") is not None:
        if not isinstance(body["exemplar"], str) or len(body["exemplar"]) > limits.max_chars:
            raise RequestError(422, f"exemplar must be a string of at most {limits.max_chars} characters", "exemplar")
        options["exemplar"] = body["exemplar"]
    return RewriteRequest(task, tuple(texts), tuple(sorted(options.items())))


def _checked(domain: Domain, value: Any, name: str) -> Any:
    """value if `domain` holds it, else RequestError 422 naming `name` and the domain."""
    if not domain.contains(value):
        raise RequestError(422, f"{name} must be {domain.allowed(value)}, got {value!r}", name)
    return float(value) if domain.kind is float else value
