"""Create every table the platform owns (idempotent: CREATE ... IF NOT EXISTS)."""

from __future__ import annotations

import psycopg

from projections.registry import all_ddl
from streams.directory import DDL as DIRECTORY_DDL


def migrate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Serialise concurrent migrators (two processes starting at once).
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(4242)")
            conn.execute(DIRECTORY_DDL)
            conn.execute(all_ddl())
