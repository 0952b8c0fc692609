"""A rebuild's bulk load (binary COPY straight into the fresh table) on the real Postgres: it writes what the
live path writes, and a record delivered twice still keeps its first delivery."""

from __future__ import annotations

import psycopg

from projections import rebuild
from projections.base import Event
from projections.inbox import COLUMNS, InboxProjection
from tests.integration.conftest import unique


class _At:
    """Where a record sat in the log: all a rebuild batch reads of its raw messages."""

    def __init__(self, event: Event) -> None:
        self._event = event

    def topic(self) -> str:
        return self._event.topic

    def partition(self) -> int:
        return self._event.partition

    def offset(self) -> int:
        return self._event.offset


def delivered(offset: int, message_id: str | None = None, **overrides: object) -> Event:
    record = {"event_id": unique("e"), "command_id": unique("c"), "message_id": message_id or unique("m"),
              "tenant_id": "acme", "from_agent": "a", "to_agent": "b", "message_type": "command", "priority": "high",
              "content": "tab\there, newline\nthere, back\\slash, ünïcode", "payload_json": '{"k": 1}',
              "conversation_id": None, "constitutional_hash": "cdd01ef066bc6cf2", "issued_at": 1_764_000_000_000 + offset,
              "delivered_at": 1_764_000_000_500 + offset}
    record.update(overrides)
    return Event("agent.messages", 2, offset, record)


def _fresh(conn: psycopg.Connection) -> InboxProjection:
    projection = InboxProjection(unique("inbox_load").replace("-", "_"))
    conn.execute(projection.ddl())
    conn.commit()
    return projection


def _rows(conn: psycopg.Connection, table: str) -> list[tuple]:
    return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY msg_offset").fetchall()


def test_the_bulk_load_writes_exactly_what_the_live_apply_writes(platform):
    events = [delivered(i) for i in range(300)] + [delivered(300, payload_json=None, conversation_id="conv-1")]
    with psycopg.connect(platform.settings.postgres_dsn) as conn:
        loaded, applied = _fresh(conn), _fresh(conn)
        with conn.transaction(), conn.cursor() as cur:
            assert loaded.load(cur, events) is True
            applied.apply(cur, events)
        assert _rows(conn, loaded.table) == _rows(conn, applied.table)
        assert len(_rows(conn, loaded.table)) == 301


def test_a_rebuild_batch_with_a_redelivered_record_keeps_the_first_delivery(platform):
    twice = unique("m")
    first = [delivered(10, twice, content="first"), delivered(11), delivered(12, twice, content="again")]
    later = [delivered(20, twice, content="third time"), delivered(21)]
    with psycopg.connect(platform.settings.postgres_dsn) as conn:
        target = _fresh(conn)
        name = unique("offsets")
        for batch in (first, later):
            with conn.transaction(), conn.cursor() as cur:
                rebuild._apply(cur, target, name, batch, [_At(e) for e in batch])
        rows = _rows(conn, target.table)
        stored = conn.execute("SELECT partition, next_offset FROM projection_offsets WHERE projection = %s",
                              (name,)).fetchall()
    assert [r[4] for r in rows] == [10, 11, 21]  # offsets 12 and 20 re-delivered the message at 10
    assert rows[0][0] == twice and rows[0][9] == "first"
    assert stored == [(2, 22)]
