"""What a projection is, and how its Kafka offsets live in the same Postgres transaction as its rows.

A projection applies a batch of decoded events to its table(s) with set-based SQL (COPY into a temporary
table, then one INSERT ... SELECT), idempotently: applying the same events again changes nothing. Its next
offsets are written in the same transaction, so a crash can neither lose nor double a row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg

OFFSETS_DDL = """
CREATE TABLE IF NOT EXISTS projection_offsets (
    projection  text   NOT NULL,
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (projection, topic, partition)
);
"""


class Event(NamedTuple):
    """One decoded record of an event topic, with where it sits in the log.

    A named tuple, not a frozen dataclass: one is built per record read, and a rebuild is bound by Python's
    per-record work.
    """

    topic: str
    partition: int
    offset: int
    record: dict[str, Any]


@dataclass
class Changes:
    """What a batch changed, for the hot cache and long-poll wake-ups after commit."""

    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    inboxes: set[tuple[str, str]] = field(default_factory=set)


class Projection(ABC):
    """A read model fed by ``topics``; ``table`` is its live table (rebuilds use another name)."""

    name: str
    topics: tuple[str, ...]

    def __init__(self, table: str | None = None) -> None:
        self.table = table or self.name

    @abstractmethod
    def ddl(self) -> str:
        """CREATE TABLE IF NOT EXISTS for ``self.table`` with its primary key (which ``apply`` relies on)."""

    def index_ddl(self) -> str:
        """CREATE INDEX IF NOT EXISTS for the read paths; index names derive from ``self.table``.

        Kept apart from ``ddl`` so a rebuild can build them once over the loaded table (a sort) instead of
        maintaining them row by row while it loads.
        """
        return ""

    @abstractmethod
    def apply(self, cur: psycopg.Cursor, events: list[Event]) -> Changes:
        """Write the batch idempotently; must not commit."""

    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """The read model's columns, in a stable order (used to compare two tables)."""

    def with_table(self, table: str) -> Projection:
        return type(self)(table)


def load_offsets(conn: psycopg.Connection, projection: str) -> dict[tuple[str, int], int]:
    rows = conn.execute("SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = %s",
                        (projection,)).fetchall()
    return {(t, p): o for t, p, o in rows}


def next_offsets(positions: list[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
    """Next offset per partition after the records at ``(topic, partition, offset)`` positions."""
    nexts: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        key = (topic, partition)
        nexts[key] = max(nexts.get(key, 0), offset + 1)
    return nexts


def store_offsets(cur: psycopg.Cursor, projection: str, nexts: dict[tuple[str, int], int]) -> None:
    """Record the next offset per partition; offsets never move backwards."""
    cur.executemany(
        "INSERT INTO projection_offsets (projection, topic, partition, next_offset) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (projection, topic, partition) DO UPDATE "
        "SET next_offset = GREATEST(projection_offsets.next_offset, EXCLUDED.next_offset)",
        [(projection, t, p, o) for (t, p), o in nexts.items()])


def copy_rows(cur: psycopg.Cursor, temp_table: str, like: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk-load ``rows`` into the session's temporary table ``temp_table``, shaped like ``like``.

    The table lives as long as the connection and is emptied at every commit: creating and dropping one per
    batch wrote some 25 catalog rows each time, which under load cost Postgres more than the batch itself.
    """
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp_table} (LIKE {like} INCLUDING DEFAULTS) "
                f"ON COMMIT DELETE ROWS")
    with cur.copy(f"COPY {temp_table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
