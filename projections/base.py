"""What a projection is, and how its Kafka offsets live in the same Postgres transaction as its rows.

A projection applies a batch of decoded events to its table(s) with set-based SQL (one INSERT ... SELECT from
the batch: arrays for a few rows, COPY into a temporary table for many; see ``batch_source``), idempotently:
applying the same events again changes nothing. Its next offsets are written in the same transaction, so a
crash can neither lose nor double a row.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg

log = logging.getLogger("acgs.projections")

# Errors that a record causes rather than Postgres (a value Postgres refuses, a record missing a field, a key
# too long for an index; the last is an OperationalError to psycopg, so list it before handling those):
# applying the same batch again fails the same way, so the worker would stall on it forever.
RECORD_ERRORS = (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.ProgramLimitExceeded, KeyError,
                 TypeError, ValueError)

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

    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # commands now final → status body
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

    def load(self, cur: psycopg.Cursor, events: list[Event]) -> bool:
        """Bulk-load a batch into a table being rebuilt, which holds only records from earlier in the same
        logs; return False if this projection has no such path (the rebuild then uses ``apply``).

        A rebuild calls it under a savepoint and falls back to ``apply`` on a unique violation: a record
        delivered twice (a gate that crashed after publishing) has to keep the first delivery. Must not commit.
        """
        return False

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
    """Record the next offset per partition, in one statement; offsets never move backwards."""
    store_all_offsets(cur, {projection: nexts})


def store_all_offsets(cur: psycopg.Cursor, by_projection: dict[str, dict[tuple[str, int], int]]) -> None:
    """``store_offsets`` for several projections at once, in one statement (one round trip per batch, not one
    per projection)."""
    rows = [(name, topic, partition, offset) for name, nexts in by_projection.items()
            for (topic, partition), offset in nexts.items()]
    if not rows:
        return
    names, topics, partitions, offsets = (list(column) for column in zip(*rows))
    cur.execute(
        "INSERT INTO projection_offsets (projection, topic, partition, next_offset) "
        "SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::bigint[]) "
        "ON CONFLICT (projection, topic, partition) DO UPDATE "
        "SET next_offset = GREATEST(projection_offsets.next_offset, EXCLUDED.next_offset)",
        (names, topics, partitions, offsets))


# Up to this many rows a batch is sent as arrays inside its INSERT (one round trip, no temporary table); above
# it COPY into a temporary table is cheaper per row. At live rates batches are a few rows: there COPY's extra
# round trips, and the truncation of the session's temporary tables at every commit that touched one, were
# most of a batch's time in Postgres.
ARRAY_ROWS_MAX = 200

_column_types: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}


def column_types(cur: psycopg.Cursor, table: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The SQL types of ``columns`` in ``table`` (``text``, ``bigint``, ``text[]``…), read once per process."""
    key = (table, columns)
    if key not in _column_types:
        found = dict(cur.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (table,)).fetchall())
        _column_types[key] = tuple(found[c] for c in columns)
    return _column_types[key]


def batch_source(cur: psycopg.Cursor, name: str, like: str, columns: tuple[str, ...],
                 rows: list[tuple]) -> tuple[str, tuple]:
    """``rows`` as a relation called ``name`` with ``columns`` typed like table ``like``: the SQL to put after
    FROM, and its parameters. Small batches become ``unnest`` of one array per column; large ones, and tables
    with array columns, are loaded with COPY into the session's temporary table ``name`` (``copy_rows``)."""
    types = column_types(cur, like, columns) if len(rows) <= ARRAY_ROWS_MAX else None
    if types is None or any(t.endswith("]") for t in types):  # unnest would flatten an array column
        copy_rows(cur, name, like, columns, rows)
        return name, ()
    arrays = ", ".join(f"%b::{t}[]" for t in types)  # binary: psycopg builds the arrays in C
    values = tuple(list(column) for column in zip(*rows)) if rows else tuple([] for _ in columns)
    return f"unnest({arrays}) AS {name}({', '.join(columns)})", values


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


def apply_each(cur: psycopg.Cursor, work: list[tuple[Projection, list[Event]]],
               on_failure: Callable[[Event, str, Exception], None]) -> list[Changes]:
    """Apply the events one at a time after a batch failed with a record error, in log order, each event to
    each projection under its own savepoint. A projection that cannot apply an event skips it and reports
    ``on_failure(event, projection_name, error)``; the other projections still apply it.

    Each projection decides alone, as if it ran on its own: that is what a rebuild of one projection does,
    so a rebuilt read model equals the live one even after a poison record (a NUL in a message's content
    stops its inbox row, not its command's status).
    """
    wanted: dict[tuple[str, int, int], tuple[Event, list[Projection]]] = {}
    for projection, events in work:
        for e in events:
            wanted.setdefault((e.topic, e.partition, e.offset), (e, []))[1].append(projection)
    changes: list[Changes] = []
    for event, projections in sorted(wanted.values(), key=lambda item: item[0][:3]):
        for projection in projections:
            try:
                with cur.connection.transaction():
                    change = projection.apply(cur, [event])
            except RECORD_ERRORS as exc:
                log.error("projection %s cannot apply %s/%s/%s: %s: %s", projection.name, event.topic,
                          event.partition, event.offset, type(exc).__name__, exc)
                on_failure(event, projection.name, exc)
                continue
            changes.append(change)
    return changes
