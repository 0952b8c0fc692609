"""projections.base.batch_source on the real Postgres: a batch sent as arrays lands exactly as the same
batch sent through COPY, for every column type the projections use, NULLs included."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg
import pytest

from projections import base
from tests.integration.conftest import unique

COLUMNS = ("id", "n", "big", "score", "flag", "doc", "at", "raw", "tags")
DDL = ("id text PRIMARY KEY, n int, big bigint, score double precision, flag boolean, doc jsonb, "
       "at timestamptz, raw bytea, tags text[]")
ROWS = [
    ("a", 1, 2**40, 0.5, True, '{"k": [1, 2]}', datetime(2026, 12, 2, tzinfo=timezone.utc), b"\x00\xff", ["x", "y"]),
    ("b", None, None, None, None, None, None, None, None),
    ("c", -3, 0, 1e-9, False, '"s"', datetime(2026, 1, 1, 12, tzinfo=timezone.utc), b"", []),
]


def _load(conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> list[tuple]:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} ({DDL})")
        source, params = base.batch_source(cur, f"{table}_batch", table, columns, rows)
        cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {source}", params)
    return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()


@pytest.mark.parametrize("columns", [COLUMNS[:-1], COLUMNS], ids=["scalar columns", "with an array column"])
def test_arrays_and_copy_load_the_same_rows(platform, monkeypatch, columns):
    rows = [row[:len(columns)] for row in ROWS]
    with psycopg.connect(platform.settings.postgres_dsn) as conn:
        as_arrays = _load(conn, unique("arrays").replace("-", "_"), columns, rows)
        monkeypatch.setattr(base, "ARRAY_ROWS_MAX", -1)  # every batch through COPY
        through_copy = _load(conn, unique("copied").replace("-", "_"), columns, rows)
    assert as_arrays == through_copy
    assert [r[0] for r in as_arrays] == ["a", "b", "c"] and as_arrays[1][1:] == (None,) * (len(columns) - 1)
    assert as_arrays[0][5] == {"k": [1, 2]}


def test_a_column_of_nulls_only_still_gets_its_type(platform):
    with psycopg.connect(platform.settings.postgres_dsn) as conn:
        loaded = _load(conn, unique("nulls").replace("-", "_"), COLUMNS[:-1], [ROWS[1], ("d",) + (None,) * 7])
    assert loaded == [ROWS[1][:-1], ("d",) + (None,) * 7]


def test_an_empty_batch_inserts_nothing(platform):
    with psycopg.connect(platform.settings.postgres_dsn) as conn:
        assert _load(conn, unique("empty").replace("-", "_"), COLUMNS[:-1], []) == []
