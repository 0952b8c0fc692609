"""Operational endpoints: liveness, readiness of every dependency, Prometheus metrics with projection lag."""

from __future__ import annotations

import asyncio
import time

import psycopg
from confluent_kafka import Consumer, TopicPartition
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """200 when Kafka, Postgres and Redis all answer; 503 naming each failing part otherwise."""
    state = request.app.state
    checks = await asyncio.gather(kafka_check(state), postgres_check(state), redis_check(state))
    failing = {name: err for name, err in checks if err}
    body = {"status": "ready" if not failing else "unavailable",
            "checks": {name: ("ok" if not err else err) for name, err in checks}}
    return JSONResponse(body, status_code=200 if not failing else 503)


async def kafka_check(state) -> tuple[str, str | None]:  # noqa: ANN001
    try:
        await asyncio.wait_for(asyncio.to_thread(state.kafka_probe), timeout=3)
        return "kafka", None
    except Exception as exc:  # noqa: BLE001
        return "kafka", f"unreachable: {exc or type(exc).__name__}"


async def postgres_check(state) -> tuple[str, str | None]:  # noqa: ANN001
    try:
        async with asyncio.timeout(3):
            async with state.pool.connection() as conn:
                await conn.execute("SELECT 1")
        return "postgres", None
    except Exception as exc:  # noqa: BLE001
        return "postgres", f"unreachable: {exc or type(exc).__name__}"


async def redis_check(state) -> tuple[str, str | None]:  # noqa: ANN001
    try:
        await asyncio.wait_for(state.redis.ping(), timeout=3)
        return "redis", None
    except Exception as exc:  # noqa: BLE001
        return "redis", f"unreachable: {exc or type(exc).__name__}"


@router.get("/metrics")
async def metrics() -> Response:
    body = await asyncio.to_thread(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class ProjectionLagCollector:
    """``acgs_projection_consumer_lag``: log end offset minus each projection's committed Postgres offset."""

    def __init__(self, bootstrap: str, dsn: str, cache_s: float = 1.0) -> None:
        self._bootstrap = bootstrap
        self._dsn = dsn
        self._cache_s = cache_s
        self._consumer: Consumer | None = None
        self._last: tuple[float, list] = (0.0, [])

    def _lags(self) -> list[tuple[str, str, int, int]]:
        if time.monotonic() - self._last[0] < self._cache_s:
            return self._last[1]
        with psycopg.connect(self._dsn, connect_timeout=2) as conn:
            rows = conn.execute("SELECT projection, topic, partition, next_offset FROM projection_offsets").fetchall()
        if self._consumer is None:
            self._consumer = Consumer({"bootstrap.servers": self._bootstrap, "group.id": "acgs-lag-probe",
                                       "log_level": 0})
        lags = []
        for projection, topic, partition, next_offset in rows:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=2)
            lags.append((projection, topic, partition, max(0, high - next_offset)))
        self._last = (time.monotonic(), lags)
        return lags

    def collect(self):  # noqa: ANN201 - prometheus collector protocol
        gauge = GaugeMetricFamily("acgs_projection_consumer_lag", "Records a projection has not applied yet",
                                  labels=["projection", "topic", "partition"])
        try:
            for projection, topic, partition, lag in self._lags():
                gauge.add_metric([projection, topic, str(partition)], lag)
        except Exception:  # noqa: BLE001 - a scrape must not fail because a dependency is down
            pass
        yield gauge
