"""Each command's status: accepted → delivered | rejected, from the gate's events.

Statuses have ranks (accepted 1; delivered and rejected 2, both final). A row only moves to a higher rank, so
events arriving from two topics in any interleaving, or twice, end in the same row.
"""

from __future__ import annotations

import psycopg

from projections.base import Changes, Event, Projection, copy_rows
from schemas.topics import AGENT_MESSAGES, CONSTITUTIONAL_EVENTS

COLUMNS = ("command_id", "status", "rank", "tenant_id", "message_id", "from_agent", "to_agent", "rule", "code",
           "reason", "event_topic", "event_partition", "event_offset", "updated_at")
FINAL = {"delivered", "rejected"}


def _row(e: Event) -> tuple:
    r = e.record
    if e.topic == AGENT_MESSAGES:
        return (r["command_id"], "delivered", 2, r["tenant_id"], r["message_id"], r["from_agent"], r["to_agent"],
                None, None, None, e.topic, e.partition, e.offset, r["delivered_at"])
    accepted = r["outcome"] == "accepted"
    return (r["command_id"], "accepted" if accepted else "rejected", 1 if accepted else 2, r["tenant_id"], None,
            r["from_agent"], r["to_agent"], r["rule"], r["code"], r["reason"], e.topic, e.partition, e.offset,
            r["checked_at"])


class CommandStatusProjection(Projection):
    name = "command_status"
    topics = (CONSTITUTIONAL_EVENTS, AGENT_MESSAGES)

    def ddl(self) -> str:
        t = self.table
        return f"""
        CREATE TABLE IF NOT EXISTS {t} (
            command_id      text PRIMARY KEY,
            status          text NOT NULL,
            rank            int NOT NULL,
            tenant_id       text,
            message_id      text,
            from_agent      text,
            to_agent        text,
            rule            text,
            code            text,
            reason          text,
            event_topic     text NOT NULL,
            event_partition int NOT NULL,
            event_offset    bigint NOT NULL,
            updated_at      bigint NOT NULL
        );
        """

    def columns(self) -> tuple[str, ...]:
        return COLUMNS

    def apply(self, cur: psycopg.Cursor, events: list[Event]) -> Changes:
        rows = [_row(e) for e in events]
        copy_rows(cur, "status_batch", self.table, COLUMNS, rows)
        cols = ", ".join(COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
        cur.execute(
            f"INSERT INTO {self.table} ({cols}) SELECT DISTINCT ON (command_id) {cols} FROM status_batch "
            f"ORDER BY command_id, rank DESC, event_topic, event_offset "
            f"ON CONFLICT (command_id) DO UPDATE SET {updates} WHERE {self.table}.rank < EXCLUDED.rank")
        changes = Changes()
        for row in rows:
            if row[1] in FINAL:
                changes.statuses[row[0]] = status_body(dict(zip(COLUMNS, row, strict=True)))
        return changes


def status_body(row: dict) -> dict:
    """The public shape of a command status (HTTP answer and hot cache)."""
    body = {"command_id": row["command_id"], "status": row["status"], "tenant_id": row["tenant_id"]}
    for key in ("message_id", "rule", "code", "reason"):
        if row.get(key) is not None:
            body[key] = row[key]
    body["updated_at"] = row["updated_at"]
    return body
