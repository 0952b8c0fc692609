"""Approval requests as a read model: one row per request, its state after its highest version seen.

Every ``approval.events`` record carries the request's state after the event, so a row is replaced only by a
higher version: replays and any interleaving end in the same row.
"""

from __future__ import annotations

import orjson
import psycopg

from projections.base import Changes, Event, Projection, batch_source
from schemas.topics import APPROVAL_EVENTS

COLUMNS = ("approval_id", "version", "tenant_id", "status", "policy", "level", "subject", "requested_by",
           "command_id", "impact_score", "approvers", "state", "created_at", "updated_at")


def _row(e: Event) -> tuple:
    state = orjson.loads(e.record["state_json"])
    approvers = sorted({a["id"] for a in state["approvers"]})
    return (state["approval_id"], state["version"], state["tenant_id"], state["status"], state["policy"],
            state["level"], state["subject"], state["requested_by"], state["command_id"], state["impact_score"],
            approvers, e.record["state_json"], state["created_at"], state["updated_at"])


class ApprovalsProjection(Projection):
    name = "approvals"
    topics = (APPROVAL_EVENTS,)

    def ddl(self) -> str:
        t = self.table
        return f"""
        CREATE TABLE IF NOT EXISTS {t} (
            approval_id  text PRIMARY KEY,
            version      int NOT NULL,
            tenant_id    text NOT NULL,
            status       text NOT NULL,
            policy       text NOT NULL,
            level        int NOT NULL,
            subject      text NOT NULL,
            requested_by text NOT NULL,
            command_id   text,
            impact_score double precision,
            approvers    text[] NOT NULL,
            state        jsonb NOT NULL,
            created_at   timestamptz NOT NULL,
            updated_at   timestamptz NOT NULL
        );
        """

    def index_ddl(self) -> str:
        t = self.table
        return f"""
        CREATE INDEX IF NOT EXISTS {t}_by_tenant ON {t} (tenant_id, status, created_at);
        CREATE INDEX IF NOT EXISTS {t}_by_approver ON {t} USING gin (approvers);
        CREATE INDEX IF NOT EXISTS {t}_open ON {t} (status) WHERE status IN ('pending', 'escalated');
        """

    def columns(self) -> tuple[str, ...]:
        return COLUMNS

    def apply(self, cur: psycopg.Cursor, events: list[Event]) -> Changes:
        source, params = batch_source(cur, "approvals_batch", self.table, COLUMNS, [_row(e) for e in events])
        cols = ", ".join(COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
        cur.execute(f"INSERT INTO {self.table} ({cols}) SELECT DISTINCT ON (approval_id) {cols} FROM {source} "
                    f"ORDER BY approval_id, version DESC ON CONFLICT (approval_id) DO UPDATE SET {updates} "
                    f"WHERE {self.table}.version < EXCLUDED.version", params)
        return Changes()
