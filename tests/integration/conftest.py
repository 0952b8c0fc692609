"""Helpers for tests on the real stack: HTTP client, topic readers with deadlines, payload builders."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from confluent_kafka import Consumer

from schemas.codec import AvroCodec

HASH = "cdd01ef066bc6cf2"


def pytest_collection_modifyitems(items):  # noqa: ANN001
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def api(platform) -> httpx.Client:  # noqa: ANN001
    with httpx.Client(base_url=platform.settings.gateway_url, timeout=40) as client:
        yield client


@pytest.fixture(scope="session")
def bootstrap(platform) -> str:  # noqa: ANN001
    return platform.settings.kafka_bootstrap


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def message(tenant: str, sender: str, recipient: str, **overrides: object) -> dict:
    body = {"from_agent": sender, "to_agent": recipient, "tenant_id": tenant, "message_type": "command",
            "priority": "normal", "content": "hello", "constitutional_hash": HASH}
    body.update(overrides)
    return body


def read_topic(bootstrap: str, topic: str, match: Callable[[object], bool], want: int = 1,
               timeout_s: float = 20.0) -> list:
    """Read ``topic`` from the beginning until ``want`` messages satisfy ``match`` or the deadline passes."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "log_level": 0})
    consumer.subscribe([topic])
    found = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and len(found) < want:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None and match(msg):
                found.append(msg)
    finally:
        consumer.close()
    return found


def decoded(msg) -> dict:  # noqa: ANN001
    return AvroCodec().decode(msg.value())[1]


def wait_until(check: Callable[[], object], timeout_s: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout_s}s")



def projection_rows(dsn: str, projection) -> list[tuple]:  # noqa: ANN001
    """Every row of ``projection``'s table, in its columns' order, sorted by key (to compare two tables)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT {', '.join(projection.columns())} FROM {projection.table} ORDER BY 1").fetchall()


def projections_caught_up(dsn: str, bootstrap: str, projections) -> bool:  # noqa: ANN001
    """Whether every one of ``projections`` has stored offsets at the end of each partition of its topics."""
    import psycopg

    from infra.kafka_probe import end_offsets

    with psycopg.connect(dsn) as conn:
        stored = {(p, t, part): o for p, t, part, o in
                  conn.execute("SELECT projection, topic, partition, next_offset FROM projection_offsets")}
    return all(stored.get((projection.name, topic, partition), 0) >= end
               for projection in projections for topic in projection.topics
               for partition, end in end_offsets(bootstrap, topic).items())
