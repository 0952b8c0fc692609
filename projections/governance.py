"""Governance decisions as a read model (for ``GET /api/v1/metrics/impact``): one row per (command, kind)."""

from __future__ import annotations

import psycopg

from projections.base import Changes, Event, Projection, batch_source
from schemas.topics import GOVERNANCE_DECISIONS

COLUMNS = ("command_id", "kind", "tenant_id", "message_type", "impact_score", "threshold", "route",
           "model_version", "approval_id", "outcome", "outcome_reason", "decided_at")


class GovernanceDecisionsProjection(Projection):
    name = "governance_decisions"
    topics = (GOVERNANCE_DECISIONS,)

    def ddl(self) -> str:
        t = self.table
        return f"""
        CREATE TABLE IF NOT EXISTS {t} (
            command_id     text NOT NULL,
            kind           text NOT NULL,
            tenant_id      text NOT NULL,
            message_type   text NOT NULL,
            impact_score   double precision NOT NULL,
            threshold      double precision NOT NULL,
            route          text NOT NULL,
            model_version  bigint NOT NULL,
            approval_id    text,
            outcome        text,
            outcome_reason text,
            decided_at     bigint NOT NULL,
            PRIMARY KEY (command_id, kind)
        );
        """

    def index_ddl(self) -> str:
        t = self.table
        return f"""
        CREATE INDEX IF NOT EXISTS {t}_by_time ON {t} (decided_at);
        """

    def columns(self) -> tuple[str, ...]:
        return COLUMNS

    def apply(self, cur: psycopg.Cursor, events: list[Event]) -> Changes:
        rows = [tuple(e.record[c] for c in COLUMNS) for e in events]
        source, params = batch_source(cur, "decisions_batch", self.table, COLUMNS, rows)
        cols = ", ".join(COLUMNS)
        cur.execute(f"INSERT INTO {self.table} ({cols}) SELECT DISTINCT ON (command_id, kind) {cols} "
                    f"FROM {source} ORDER BY command_id, kind ON CONFLICT (command_id, kind) DO NOTHING", params)
        return Changes()
