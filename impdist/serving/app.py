"""`impdist serve MODEL_DIR`: a student as an HTTP JSON service.

    POST /v1/paraphrase, /v1/summarize   {"texts": [...], options...} -> {"outputs": [...]}
    GET  /health                          200 while the decode thread runs, else 503
    GET  /metrics                         Prometheus text (impdist.serving.metrics)

The stack is Starlette on uvicorn: Starlette is the small ASGI toolkit FastAPI is built on
(routing, requests, responses; no validation framework to carry), uvicorn the reference ASGI
server, and both are maintained by Encode, pure-Python wheels, and bring neither torch nor
compilers to the serving install. uvicorn's SIGTERM handling stops accepting connections, lets
the requests in flight finish (up to `graceful_s`), then runs the app's shutdown, which decodes
what is still queued before the decode thread stops.

The event loop only parses, checks and queues requests; one thread decodes them in micro-batches
(impdist.serving.batcher), so ONNX Runtime runs one batch at a time over all cores.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from typing import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from impdist._version import __version__
from impdist.errors import ImpdistError
from impdist.models.names import embedding_model_dir
from impdist.serving.batcher import MicroBatcher, QueueFull
from impdist.serving.metrics import CONTENT_TYPE, ServerMetrics
from impdist.serving.config import ServeConfig
from impdist.serving.requests import RequestError, RewriteRequest, check_request, parse_json
from impdist.student.errors import TextTooLongError
from impdist.student.serve import Paraphraser

log = logging.getLogger(__name__)

ENDPOINTS = {"/v1/paraphrase": "paraphrase", "/v1/summarize": "summary"}
_DRAIN = 16  # an oversized body is read (and dropped) up to this many times the limit before the 413


def create_app(student: Paraphraser, config: ServeConfig = ServeConfig()) -> Starlette:
    """The ASGI app serving `student`; its decode thread starts now and stops at the app's shutdown."""
    generate = functools.partial(student.generate, batch_size=config.max_batch, embedder=config.embedder)
    try:  # best_of compares summaries with the embedder: say now, not per request, when it is missing
        embedding_model_dir(config.embedder)
        no_embedder = None
    except ImpdistError as e:
        no_embedder = str(e).splitlines()[0]
        log.warning("best_of requests will be refused: %s", no_embedder)
    metrics = ServerMetrics(lambda: batcher.depth, lambda: batcher.busy)  # read when scraped
    batcher = MicroBatcher(generate, max_batch=config.max_batch, max_wait_s=config.max_wait_ms / 1000,
                           max_queue=config.max_queue, on_batch=metrics.on_batch)

    async def rewrite(request: Request) -> Response:
        endpoint = request.url.path
        start = time.perf_counter()
        sentences = 0
        try:
            checked = check_request(parse_json(await _body(request, config.limits.max_body_bytes)),
                                    ENDPOINTS[endpoint], config.limits)
            if no_embedder and checked.kwargs().get("best_of", 1) > 1:
                raise RequestError(422, f"best_of is unavailable on this server: {no_embedder}", "best_of")
            _check_options(student, checked)
            outputs = await asyncio.wrap_future(batcher.submit(checked))
            n = checked.kwargs().get("n", 1)
            response = JSONResponse({"outputs": [o[0] if n == 1 else o for o in outputs]})
            sentences = len(outputs)
        except RequestError as e:
            response = JSONResponse(e.body(), e.status)
        except QueueFull as e:
            response = JSONResponse({"error": f"{e}; retry in {config.retry_after_s} s", "field": None}, 503,
                                    headers={"Retry-After": str(config.retry_after_s)})
        except TextTooLongError as e:
            field = f"texts[{e.index}]"
            response = JSONResponse({"error": str(TextTooLongError(e.index, e.tokens, e.limit, field)), "field": field},
                                    422)
        except ImpdistError as e:  # a request the student refuses (say n > 1 without sample)
            response = JSONResponse({"error": str(e), "field": None}, 422)
        except Exception:  # noqa: BLE001 - logged; the client gets a 500, the server goes on
            log.exception("answering %s failed", endpoint)
            response = JSONResponse({"error": "internal error; see the server's log", "field": None}, 500)
        metrics.on_response(endpoint, response.status_code, time.perf_counter() - start, sentences)
        return response

    async def health(request: Request) -> Response:
        ok = batcher.alive
        return JSONResponse({"status": "ok" if ok else "unavailable", "model": str(student.path),
                             "backend": student.backend.name, "queue_depth": batcher.depth,
                             "max_queue": config.max_queue, "impdist": __version__}, 200 if ok else 503)

    async def prometheus(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        metrics.on_response("other", status, 0.0)
        return JSONResponse({"error": f"{detail}: {request.method} {request.url.path}; the service answers "
                                      f"POST {', '.join(ENDPOINTS)}, GET /health and GET /metrics", "field": None},
                            status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # uvicorn gets here after the requests in flight were answered: decode what is left, stop
        await asyncio.to_thread(batcher.close)

    routes = [Route(path, rewrite, methods=["POST"]) for path in ENDPOINTS]
    routes += [Route("/health", health, methods=["GET"]), Route("/metrics", prometheus, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.batcher, app.state.metrics = batcher, metrics
    return app


async def _body(request: Request, limit: int) -> bytes:
    """The request body; over `limit` bytes it is refused (413) once read, up to _DRAIN times the
    limit, so the client finishes sending and reads the answer instead of a reset connection."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN * limit:
        raise RequestError(413, f"the body is {declared} bytes; at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _DRAIN * limit:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise RequestError(413, f"the body is {'over ' if size > _DRAIN * limit else ''}{size} bytes; at most {limit}")
    return b"".join(chunks)


def _check_options(student: Paraphraser, request: RewriteRequest) -> None:
    """The student's own checks of the options (code labels, n > 1 needs sampling, best_of's
    rules), run without decoding: generate on no texts checks everything, then returns []."""
    options = request.kwargs()
    for name in ("compression", "diversity", "exemplar"):  # one at a time, so the refusal names it
        if name in options:
            try:
                student.format.request(request.task, **{name: options[name]})
            except ImpdistError as e:
                raise RequestError(422, str(e), name) from None
    student.generate([], task=request.task, **options)


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, *, backend: str | None = None,
          device: str = "cpu", threads: int | None = None, config: ServeConfig = ServeConfig(),
          log_level: str = "info", sock: socket.socket | None = None) -> None:
    """Load the student in `model` and serve it on host:port (or on an already bound `sock`)
    until SIGTERM or SIGINT; returns once the requests in flight are answered."""
    student = Paraphraser.load(model, backend, device, threads=threads)
    student.paraphrase(["Warm up the runtime."], max_new_tokens=1)  # the first request pays no start-up
    server = uvicorn.Server(uvicorn.Config(create_app(student, config), host=host, port=port, log_level=log_level,
                                           timeout_graceful_shutdown=int(config.graceful_s), access_log=False,
                                           lifespan="on"))
    server.run(sockets=[sock] if sock is not None else None)
