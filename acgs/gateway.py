"""Composition root of the HTTP gateway: write routes (commands/) and read routes (query_api/) in one app."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

import psycopg
import redis.asyncio as aioredis
from confluent_kafka.admin import AdminClient
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from acgs.metrics import COMMANDS_REFUSED, HTTP_LATENCY, HTTP_REQUESTS
from acgs.runtime import freeze_startup_objects
from acgs.settings import Settings, get_settings
from commands import api as command_routes
from commands import approvals_api, notifications_api
from commands.approval_service import ApprovalCommands
from commands.directory import REDIS_DOWN, RedisAgentDirectory, RedisIdempotencyStore, RedisStatusCache
from commands.exceptions import IntakeError
from commands.hot_route import HotSendRoute
from commands.http_errors import error_body, validation_failure
from commands.intake import MessageIntake
from commands.kafka_log import KafkaCommandLog
from query_api import audit, dashboard, ops, routes, schema_registry
from query_api import approvals as approval_routes
from query_api import governance as governance_routes
from query_api.audit_service import AuditService
from query_api.dashboard import Dashboard
from query_api.ops import ProjectionLagCollector
from query_api.read_model import PostgresReadModel
from query_api.wakeups import Wakeups
from schemas.codec import AvroCodec
from streams.scoring import RoutingPolicy

log = logging.getLogger("acgs.gateway")

def error(status: int, code: str, message: str, headers: dict | None = None, **details: object) -> JSONResponse:
    return JSONResponse(error_body(code, message, **details), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, body = validation_failure(exc.errors())
        return JSONResponse(body, status_code=status)

    @app.exception_handler(IntakeError)
    async def on_intake(_: Request, exc: IntakeError) -> JSONResponse:
        COMMANDS_REFUSED.labels(exc.code).inc()
        headers = {"Retry-After": "1"} if exc.status_code == 503 else None
        return error(exc.status_code, exc.code, exc.message, headers=headers, **exc.details)

    # Starlette's class, not FastAPI's subclass: the router's own 404 (no such path) and 405 get a code too.
    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail), headers=exc.headers)

    # A dependency that is down is not a bug of ours nor the client's: 503 with a code, and try again.
    async def on_postgres_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("PostgreSQL unavailable: %s: %s", type(exc).__name__, exc)
        return error(503, "postgres_unavailable", "the database behind this request is unavailable; retry shortly",
                     headers={"Retry-After": "1"})

    async def on_redis_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("Redis unavailable: %s: %s", type(exc).__name__, exc)
        return error(503, "redis_unavailable", "Redis is unavailable; retry shortly", headers={"Retry-After": "1"})

    for postgres_error in (psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(postgres_error, on_postgres_down)
    for redis_error in REDIS_DOWN:  # read routes; sends turn it into DirectoryUnavailable (commands/intake.py)
        app.add_exception_handler(redis_error, on_redis_down)

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error(500, "internal_error", "unexpected error; it has been logged")


class BodyLimitAndMetrics:
    """ASGI middleware: refuses bodies over the limit with 413 and URLs holding a NUL with 422 (no id here may
    hold one, and Postgres text cannot), and records request metrics."""

    def __init__(self, app, max_body: int) -> None:  # noqa: ANN001
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status_holder = [500]
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            response = error(422, "nul_character", "the URL holds a NUL character (U+0000), which no path or "
                                                   "query parameter of this API may contain")
            await response(scope, receive, send)
            return self._observe(scope, 422, started)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                response = error(413, "body_too_large", f"request body exceeds {self.max_body} bytes")
                await response(scope, receive, send)
                return self._observe(scope, 413, started)
        received = 0

        async def limited_receive():  # noqa: ANN202
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HTTPException(413, detail={"code": "body_too_large",
                                                 "message": f"request body exceeds {self.max_body} bytes"})
            return message

        async def recording_send(message):  # noqa: ANN001, ANN202
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
            await send(message)

        await self.app(scope, limited_receive, recording_send)
        self._observe(scope, status_holder[0], started)

    @staticmethod
    def _observe(scope, status: int, started: float) -> None:  # noqa: ANN001
        route = scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
        HTTP_LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        state = app.state
        state.registry = AvroCodec().registry
        state.redis = aioredis.Redis.from_url(settings.redis_dsn, socket_timeout=5, socket_connect_timeout=2)
        # check: a connection broken by a database restart is replaced before use, not handed to a request;
        # timeout: with the database down, a request gets its 503 after 5 s rather than the pool's 30 s.
        state.pool = AsyncConnectionPool(settings.postgres_dsn, min_size=2, max_size=20, open=False, timeout=5,
                                         check=AsyncConnectionPool.check_connection,
                                         kwargs={"connect_timeout": 3})
        await state.pool.open(wait=False)
        state.log = KafkaCommandLog(settings.kafka_bootstrap, settings.produce_timeout_ms)
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0})
        state.kafka_probe = lambda: admin.list_topics(timeout=2)
        state.statuses = RedisStatusCache(state.redis)
        agents = RedisAgentDirectory(state.redis)
        state.intake = MessageIntake(settings.constitutional_hash, settings.max_content_bytes, state.log, AvroCodec(),
                                     agents,
                                     RedisIdempotencyStore(state.redis, settings.idempotency_ttl_s), state.statuses)
        state.read_model = PostgresReadModel(state.pool)
        state.wakeups = Wakeups(state.redis, on_agents_registered=agents.forget_misses)
        state.wakeups.start()
        state.settings = settings
        state.approval_commands = ApprovalCommands(state.log, AvroCodec(), state.pool, state.wakeups,
                                                   settings.approval_wait_ms)
        state.model_reader = governance_routes.ModelReader(state.pool)
        state.routing_policy = RoutingPolicy(settings.impact_threshold, settings.impact_threshold_per_tenant,
                                             settings.impact_threshold_per_message_type)
        lag = ProjectionLagCollector(settings.kafka_bootstrap, settings.postgres_dsn)
        REGISTRY.register(lag)
        state.audit = AuditService(settings)
        state.audit.open()
        state.dashboard = Dashboard(settings.kafka_bootstrap, state.pool,
                                    state.audit if settings.audit_enabled else None)
        freeze_startup_objects("gateway")
        try:
            yield
        finally:
            state.dashboard.close()
            state.audit.close()
            REGISTRY.unregister(lag)
            await state.wakeups.stop()
            state.log.close()
            await state.pool.close()
            await state.redis.aclose()

    # FastAPI's native OpenTelemetry hooks cost an environment lookup per request even when unconfigured;
    # this gateway exports Prometheus metrics instead.
    app = FastAPI(title="ACGS-2 gateway", version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  description="Commands in (appended to Kafka as Avro), read models out. "
                              "Schema registry read API under /schema-registry.")
    install_error_handlers(app)
    app.include_router(command_routes.router)
    app.include_router(routes.router)
    app.include_router(schema_registry.router)
    app.include_router(audit.router)
    app.include_router(ops.router)
    app.include_router(approvals_api.router)
    app.include_router(approval_routes.router)
    app.include_router(governance_routes.router)
    app.include_router(notifications_api.router)
    app.include_router(dashboard.router)
    app.add_middleware(BodyLimitAndMetrics, max_body=settings.max_body_bytes)
    return app


def create_server(settings: Settings | None = None) -> HotSendRoute:
    """What uvicorn serves: the intake's hot path in front of the whole FastAPI app (see commands/hot_route.py)."""
    settings = settings or get_settings()
    return HotSendRoute(create_app(settings), max_body=settings.max_body_bytes)
