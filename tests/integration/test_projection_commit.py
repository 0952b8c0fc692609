"""The projection worker's commit on the real Postgres: a batch lands in every projection exactly as the same
events applied one at a time, with every projection's offsets (one statement for all) in the same
transaction, never moving backwards; a record Postgres refuses fails the whole batch and writes nothing, and
the record-by-record fallback then stops it only in the projection that cannot store it."""

from __future__ import annotations

import psycopg
import pytest

from projections.base import RECORD_ERRORS, Event, load_offsets, next_offsets
from projections.command_status import CommandStatusProjection
from projections.inbox import InboxProjection
from projections.runner import ProjectionWorker, _connect
from schemas.topics import AGENT_MESSAGES
from tests.integration.conftest import unique


def _projections() -> list:
    """An inbox and a command-status projection on tables and offsets of their own (not the live ones)."""
    suffix = unique("commit").replace("-", "_")
    inbox = type("Inbox", (InboxProjection,), {"name": f"inbox_{suffix}"})(f"inbox_{suffix}")
    status = type("Status", (CommandStatusProjection,), {"name": f"status_{suffix}"})(f"status_{suffix}")
    return [inbox, status]


def _delivery(n: int, content: str = "hello") -> Event:
    record = {"message_id": f"m{n}", "tenant_id": "commit", "to_agent": f"r{n % 2}", "command_id": f"c{n}",
              "from_agent": "s", "message_type": "command", "priority": "normal", "content": content,
              "payload_json": None, "conversation_id": None, "issued_at": n, "delivered_at": n + 1}
    return Event(AGENT_MESSAGES, n % 3, 100 + n, record)


def _work(projections: list, events: list[Event]) -> list:
    nexts = next_offsets([e[:3] for e in events])
    return [(p, events, dict(nexts)) for p in projections]


def _worker(settings) -> ProjectionWorker:  # noqa: ANN001
    """A worker on fresh projections, with its connection open and their tables created (not started)."""
    projections = _projections()
    w = ProjectionWorker(projections, settings.kafka_bootstrap, settings.postgres_dsn, settings.redis_dsn)
    w._conn = _connect(settings.postgres_dsn)
    with w._conn.transaction():
        for p in projections:
            w._conn.execute(p.ddl())
    return w


@pytest.fixture()
def worker(platform):  # noqa: ANN001
    w = _worker(platform.settings)
    yield w
    w._conn.close()


def _rows(conn: psycopg.Connection, projection) -> list[tuple]:  # noqa: ANN001
    cols = ", ".join(projection.columns())
    return conn.execute(f"SELECT {cols} FROM {projection.table} ORDER BY 1").fetchall()


def test_batches_land_like_events_applied_one_at_a_time_with_every_projections_offsets(worker, platform):
    inbox, status = worker.projections
    first, second = [_delivery(n) for n in range(3)], [_delivery(n) for n in range(3, 8)]
    worker._commit(_work(worker.projections, first))
    worker._commit(_work(worker.projections, second))

    reference = _worker(platform.settings)
    try:
        reference._commit(_work(reference.projections, first + second), reject=lambda *a: None)  # one at a time
        for mine, theirs in zip(worker.projections, reference.projections, strict=True):
            expected = _rows(reference._conn, theirs)
            assert _rows(worker._conn, mine) == expected and len(expected) == 8
    finally:
        reference._conn.close()
    for p in (inbox, status):
        assert load_offsets(worker._conn, p.name) == {(AGENT_MESSAGES, 0): 107, (AGENT_MESSAGES, 1): 108,
                                                      (AGENT_MESSAGES, 2): 106}
    worker._conn.commit()

    worker._commit(_work(worker.projections, first))  # an old batch again (a replay): offsets stay where they are
    for p in (inbox, status):
        assert load_offsets(worker._conn, p.name)[(AGENT_MESSAGES, 0)] == 107
        assert len(_rows(worker._conn, p)) == 8
    worker._conn.commit()


def test_a_record_postgres_refuses_fails_the_batch_and_writes_nothing_then_stops_only_its_projection(worker):
    inbox, status = worker.projections
    worker._commit(_work(worker.projections, [_delivery(0)]))
    with pytest.raises(RECORD_ERRORS) as refused:
        worker._commit(_work(worker.projections, [_delivery(1), _delivery(2, "nul \x00 byte"), _delivery(3)]))
    assert isinstance(refused.value, psycopg.DataError)
    assert [r[0] for r in _rows(worker._conn, inbox)] == ["m0"]
    assert [r[0] for r in _rows(worker._conn, status)] == ["c0"]
    assert load_offsets(worker._conn, inbox.name) == {(AGENT_MESSAGES, 0): 101}
    worker._conn.commit()

    rejected = []
    worker._commit(_work(worker.projections, [_delivery(1), _delivery(2, "nul \x00 byte"), _delivery(3)]),
                   reject=lambda event, projection, error: rejected.append((event.record["message_id"], projection)))
    assert rejected == [("m2", inbox.name)]  # the status row needs no content: that projection applies it
    assert [r[0] for r in _rows(worker._conn, inbox)] == ["m0", "m1", "m3"]
    assert [r[0] for r in _rows(worker._conn, status)] == ["c0", "c1", "c2", "c3"]
    worker._conn.commit()
