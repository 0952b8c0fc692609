"""Create every table the platform owns (idempotent: CREATE ... IF NOT EXISTS)."""

from __future__ import annotations

import psycopg

from projections.registry import all_ddl
from streams.anchoring.pg_anchors import ANCHORS_DDL
from streams.approvals.store import APPROVALS_DDL
from streams.audit.pg_store import AUDIT_DDL
from streams.directory import DDL as DIRECTORY_DDL
from streams.governance.model_store import MODEL_DDL
from streams.notifications.jobs import NOTIFY_DDL


def migrate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Serialise concurrent migrators (two processes starting at once).
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(4242)")
            conn.execute(DIRECTORY_DDL)
            conn.execute(all_ddl())
            conn.execute(AUDIT_DDL)
            conn.execute(ANCHORS_DDL)
            conn.execute(APPROVALS_DDL + NOTIFY_DDL + MODEL_DDL)
