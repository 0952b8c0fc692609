"""``POST /api/v1/messages/send`` served straight from ASGI: the intake's hot path without FastAPI's machinery.

Profiling the gateway under load showed FastAPI's per-request work (route matching over every route,
dependency solving, query parsing, body decoding into a dict, response model handling, the middleware
chain) costing about five times the intake's own work for this route. This middleware answers that one
path itself with the same contract: the body is validated by the same pydantic model (in JSON mode),
errors map to the same codes through ``commands.http_errors``, and metrics use the same series. Every other
request, and the OpenAPI description of this route, stay with FastAPI.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette

from acgs.metrics import COMMANDS_REFUSED, HTTP_LATENCY, HTTP_REQUESTS
from commands.exceptions import IntakeError
from commands.http_errors import error_body, validation_failure
from commands.ids import new_id
from commands.models import SendMessageRequest

log = logging.getLogger("acgs.commands")

SEND_PATH = "/api/v1/messages/send"
_JSON = [(b"content-type", b"application/json")]


class HotSendRoute:
    """ASGI wrapper around the FastAPI app: serves ``POST SEND_PATH`` with ``app.state.intake``; passes the
    rest (and the lifespan) on.

    It wraps the app from outside rather than sitting in its middleware stack, so this path also skips
    Starlette's error middleware and application entry; it catches its own errors (a 500 with ``code``)."""

    def __init__(self, app: Starlette, max_body: int) -> None:
        self.app = app
        self.state = app.state
        self.max_body = max_body
        self._latency = HTTP_LATENCY.labels("POST", SEND_PATH)
        self._counted: dict[int, Any] = {}

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or scope["path"] != SEND_PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status, body, extra_headers = await self._answer(scope, receive)
        payload = orjson.dumps(body)
        headers = [*_JSON, (b"content-length", str(len(payload)).encode()), *extra_headers]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        counter = self._counted.get(status)
        if counter is None:
            counter = self._counted[status] = HTTP_REQUESTS.labels("POST", SEND_PATH, str(status))
        counter.inc()
        self._latency.observe(time.perf_counter() - started)

    async def _answer(self, scope, receive) -> tuple[int, dict, list[tuple[bytes, bytes]]]:  # noqa: ANN001
        correlation_id = None
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                return self._too_large()
            if name == b"x-correlation-id":
                correlation_id = value.decode("latin-1")
        body = await self._read_body(receive)
        if body is None:
            return self._too_large()
        if not body:  # as FastAPI answers a missing required body
            status, answer = validation_failure([{"loc": ("body",), "type": "missing", "msg": "Field required"}])
            return status, answer, []
        try:
            request = SendMessageRequest.model_validate_json(body)
        except ValidationError as exc:
            status, answer = validation_failure(
                {**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False))
            return status, answer, []
        intake = self.state.intake
        try:
            return 202, await intake.send(request, correlation_id or new_id()), []
        except IntakeError as exc:
            COMMANDS_REFUSED.labels(exc.code).inc()
            headers = [(b"retry-after", b"1")] if exc.status_code == 503 else []
            return exc.status_code, error_body(exc.code, exc.message, **exc.details), headers
        except Exception:  # noqa: BLE001 - never a stack trace to the client
            log.exception("unexpected error in %s", SEND_PATH)
            return 500, error_body("internal_error", "unexpected error; it has been logged"), []

    async def _read_body(self, receive) -> bytes | None:  # noqa: ANN001
        """The whole body, or None once it exceeds the limit (the rest is not read)."""
        message = await receive()
        body = message.get("body", b"")
        if not message.get("more_body", False):
            return body if len(body) <= self.max_body else None
        chunks = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> tuple[int, dict, list]:
        return 413, error_body("body_too_large", f"request body exceeds {self.max_body} bytes"), []
