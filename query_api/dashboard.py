"""The operators' live dashboard: one summary of the whole platform, read from the real sources.

- Kafka: records per topic (log end minus log start offsets) and their rate between two samples;
- Postgres: each projection's lag (records of its topics it has not applied yet), the latest rejected
  commands, open approvals;
- the audit log: latest signed checkpoint and latest on-chain anchor;
- readiness of Kafka, Postgres and Redis, and this gateway's answers and refused commands since it started.

Served as JSON (``GET /api/v1/dashboard/summary``), as server-sent events (``GET /api/v1/dashboard/stream``)
and as a page rendering that stream (``GET /dashboard``). Each section is read on its own: a dependency that
is down turns its section into ``{"error": ...}`` and the rest still answers. One sample is shared by every
viewer for ``cache_s``, so many open dashboards cost the sources no more than one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import orjson
from confluent_kafka import Consumer, TopicPartition
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from psycopg.rows import dict_row

from acgs.metrics import COMMANDS_REFUSED, HTTP_REQUESTS
from projections.registry import PROJECTIONS
from query_api import ops
from schemas.topics import TOPICS

router = APIRouter(tags=["dashboard"])
PAGE = Path(__file__).resolve().parent / "static" / "dashboard.html"
RECENT_REJECTIONS = 10


class Dashboard:
    def __init__(self, bootstrap: str, pool, audit, cache_s: float = 1.0) -> None:  # noqa: ANN001
        self._bootstrap = bootstrap
        self._pool = pool  # the gateway's async Postgres pool
        self._audit = audit  # query_api.audit_service.AuditService, or None when the audit log is off
        self._cache_s = cache_s
        self._consumer: Consumer | None = None
        self._previous: tuple[float, dict[str, int]] | None = None  # (monotonic time, log end sums) of the last sample
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def summary(self, state) -> dict[str, Any]:  # noqa: ANN001 - the app state, for readiness checks
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self._cache_s:
                return self._cached[1]
            ends = await _section(asyncio.to_thread(self._log_ends))
            sections = await asyncio.gather(
                _section(self._projections(ends)), _section(self._rejections()), _section(self._approvals()),
                _section(asyncio.to_thread(self._audit_state)), _section(self._ready(state)))
            names = ("projections", "rejections", "approvals", "audit", "ready")
            summary = {"generated_at": time.time_ns() // 1_000_000, "topics": self._topics(ends),
                       "gateway": _gateway_counts(), **dict(zip(names, sections, strict=True))}
            self._cached = (time.monotonic(), summary)
            return summary

    def _log_ends(self) -> dict[tuple[str, int], tuple[int, int]]:
        """(log start, log end) offsets of every partition of the platform's topics."""
        if self._consumer is None:
            self._consumer = Consumer({"bootstrap.servers": self._bootstrap, "group.id": "acgs-dashboard",
                                       "log_level": 0})
        metadata = self._consumer.list_topics(timeout=3)
        ends = {}
        for spec in TOPICS:
            topic = metadata.topics.get(spec.name)
            if topic is None or topic.error is not None:
                continue
            for partition in topic.partitions:
                ends[(spec.name, partition)] = self._consumer.get_watermark_offsets(
                    TopicPartition(spec.name, partition), timeout=3)
        return ends

    def _topics(self, ends: dict | Any) -> list[dict[str, Any]] | dict:
        if "error" in ends:
            return ends
        now, records, totals = time.monotonic(), {}, {}
        for (topic, _), (low, high) in ends.items():
            records[topic] = records.get(topic, 0) + high - low
            totals[topic] = totals.get(topic, 0) + high
        previous, self._previous = self._previous, (now, totals)
        rows = []
        for name, count in records.items():
            rate = None
            if previous is not None and now > previous[0] and name in previous[1]:
                rate = round(max(0, totals[name] - previous[1][name]) / (now - previous[0]), 1)
            rows.append({"topic": name, "records": count, "per_second": rate})
        return rows

    async def _projections(self, ends: dict | Any) -> list[dict[str, Any]] | dict:
        """Records each projection has yet to apply: log end minus its stored offset, over its topics."""
        if "error" in ends:
            return ends
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT projection, topic, partition, next_offset FROM projection_offsets")
            stored = {(p, t, part): o for p, t, part, o in await cur.fetchall()}
        rows = []
        for name, projection in PROJECTIONS.items():
            behind = sum(max(0, high - stored.get((name, topic, partition), low))
                         for (topic, partition), (low, high) in ends.items() if topic in projection.topics)
            rows.append({"projection": name, "lag": behind})
        return rows

    async def _rejections(self) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT command_id, tenant_id, code, reason, updated_at FROM command_status "
                              "WHERE status = 'rejected' ORDER BY updated_at DESC LIMIT %s", (RECENT_REJECTIONS,))
            return await cur.fetchall()

    async def _approvals(self) -> dict[str, int]:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT status, count(*) FROM approvals "
                                     "WHERE status IN ('pending', 'escalated') GROUP BY status")
            counts = dict(await cur.fetchall())
        return {"pending": counts.get("pending", 0), "escalated": counts.get("escalated", 0)}

    def _audit_state(self) -> dict[str, Any] | None:
        if self._audit is None:
            return None
        from query_api.exceptions import QueryError

        try:
            checkpoint = self._audit.latest_checkpoint()
        except QueryError:
            checkpoint = None
        anchors = self._audit.anchors(1)["anchors"]
        return {
            "tree_size": checkpoint["tree_size"] if checkpoint else 0,
            "checkpoint_at": checkpoint["timestamp"] if checkpoint else None,
            "anchored_tree_size": anchors[0]["tree_size"] if anchors else None,
            "anchored_at": anchors[0]["anchored_at"] if anchors else None,
            "anchor_tx": anchors[0]["tx_hash"] if anchors else None,
        }

    @staticmethod
    async def _ready(state) -> dict[str, str]:  # noqa: ANN001
        checks = await asyncio.gather(ops.kafka_check(state), ops.postgres_check(state), ops.redis_check(state))
        return {name: err or "ok" for name, err in checks}

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()


def _gateway_counts() -> dict[str, dict[str, int]]:
    """This gateway process's HTTP answers by status class and its refused commands by code, since it started."""
    answers: dict[str, int] = {}
    for metric in HTTP_REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                status = f"{sample.labels['status'][:1]}xx"
                answers[status] = answers.get(status, 0) + int(sample.value)
    refused = {sample.labels["code"]: int(sample.value) for metric in COMMANDS_REFUSED.collect()
               for sample in metric.samples if sample.name.endswith("_total")}
    return {"answers": dict(sorted(answers.items())), "refused": dict(sorted(refused.items()))}


async def _section(work) -> Any:  # noqa: ANN001
    try:
        return await work
    except Exception as exc:  # noqa: BLE001 - one source down must not take the dashboard down
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


@router.get("/api/v1/dashboard/summary")
async def summary(request: Request) -> dict:
    """The platform at a glance: topic sizes and rates, projection lag, latest rejections, open approvals,
    audit checkpoint and anchor, readiness. A section whose source is down holds ``{"error": ...}``."""
    return await request.app.state.dashboard.summary(request.app.state)


@router.get("/api/v1/dashboard/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent `summary` events"}})
async def stream(request: Request, interval_ms: Annotated[int, Query(ge=500, le=60000)] = 2000,
                 max_events: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> StreamingResponse:
    """The summary as server-sent events (``event: summary``), one every ``interval_ms``, until the client
    leaves (or after ``max_events``)."""
    state = request.app.state

    async def events() -> AsyncIterator[bytes]:
        yield f"retry: {interval_ms}\n\n".encode()
        sent = 0
        while max_events is None or sent < max_events:
            body = await state.dashboard.summary(state)
            yield b"event: summary\ndata: " + orjson.dumps(body) + b"\n\n"
            sent += 1
            if max_events is not None and sent >= max_events:
                return
            deadline = time.monotonic() + interval_ms / 1000
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    return
                await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


@router.get("/dashboard", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    """The live dashboard page (renders ``/api/v1/dashboard/stream``)."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
