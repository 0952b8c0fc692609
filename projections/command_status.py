"""Each command's status: accepted → (pending_deliberation →) delivered | rejected, from the gate's events;
a registration's: accepted → registered | rejected.

Statuses have ranks (accepted 1; pending_deliberation 2; delivered, registered and rejected 3, all final).
A row only moves to a higher rank, so events arriving from four topics in any interleaving, or twice, end in
the same row. A held command's ``approval_id`` and ``impact_score`` stay on the row once it is final.
"""

from __future__ import annotations

import psycopg

from projections.base import Changes, Event, Projection, batch_source
from schemas.topics import AGENT_MESSAGES, AGENT_REGISTRATIONS, CONSTITUTIONAL_EVENTS, GOVERNANCE_DECISIONS

COLUMNS = ("command_id", "status", "rank", "tenant_id", "message_id", "from_agent", "to_agent", "rule", "code",
           "reason", "event_topic", "event_partition", "event_offset", "updated_at", "approval_id", "impact_score")
FINAL = {"delivered", "registered", "rejected"}
RANKS = {"accepted": 1, "pending_deliberation": 2, "delivered": 3, "registered": 3, "rejected": 3}
_KEPT = ("approval_id", "impact_score")  # once known, never overwritten by a later event without them


def _row(e: Event) -> tuple:
    r = e.record
    if e.topic == AGENT_MESSAGES:
        return (r["command_id"], "delivered", 3, r["tenant_id"], r["message_id"], r["from_agent"], r["to_agent"],
                None, None, None, e.topic, e.partition, e.offset, r["delivered_at"], None, None)
    if e.topic == AGENT_REGISTRATIONS:
        return (r["command_id"], "registered", 3, r["tenant_id"], None, r["agent_id"], None, None, None, None,
                e.topic, e.partition, e.offset, r["registered_at"], None, None)
    if e.topic == GOVERNANCE_DECISIONS:
        held = r["kind"] == "routed"
        status = "pending_deliberation" if held else "rejected"
        return (r["command_id"], status, RANKS[status], r["tenant_id"], None, None, None,
                None if held else "deliberation", None if held else "deliberation_rejected",
                None if held else r["outcome_reason"], e.topic, e.partition, e.offset, r["decided_at"],
                r["approval_id"], r["impact_score"])
    accepted = r["outcome"] == "accepted"
    return (r["command_id"], "accepted" if accepted else "rejected", 1 if accepted else 3, r["tenant_id"], None,
            r["from_agent"], r["to_agent"], r["rule"], r["code"], r["reason"], e.topic, e.partition, e.offset,
            r["checked_at"], None, None)


def _relevant(e: Event) -> bool:
    """Of governance.decisions only holds and rejections change a status (approvals arrive as deliveries);
    of agent.registrations only registrations (a binding by a first message is that message's side effect)."""
    r = e.record
    if e.topic == AGENT_REGISTRATIONS:
        return r.get("via", "registration") == "registration"
    if e.topic != GOVERNANCE_DECISIONS:
        return True
    return (r["kind"] == "routed" and r["route"] == "deliberation") or \
        (r["kind"] == "outcome" and r["outcome"] == "rejected")


class CommandStatusProjection(Projection):
    name = "command_status"
    topics = (CONSTITUTIONAL_EVENTS, AGENT_MESSAGES, GOVERNANCE_DECISIONS, AGENT_REGISTRATIONS)

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
        ALTER TABLE {t} ADD COLUMN IF NOT EXISTS approval_id text;
        ALTER TABLE {t} ADD COLUMN IF NOT EXISTS impact_score double precision;
        -- ranks before deliberation existed: final was 2 (now 3; 2 is pending_deliberation)
        UPDATE {t} SET rank = 3 WHERE rank = 2 AND status IN ('delivered', 'rejected');
        """

    def index_ddl(self) -> str:
        t = self.table  # the dashboard's latest rejections: a partial index, kept only for rejected rows
        return f"CREATE INDEX IF NOT EXISTS {t}_rejected ON {t} (updated_at DESC) WHERE status = 'rejected';"

    def columns(self) -> tuple[str, ...]:
        return COLUMNS

    def apply(self, cur: psycopg.Cursor, events: list[Event]) -> Changes:
        rows = [_row(e) for e in events if _relevant(e)]
        if not rows:
            return Changes()
        source, params = batch_source(cur, "status_batch", self.table, COLUMNS, rows)
        t = self.table
        # A held command's approval id and score come from an earlier-ranked event than its final one, and a
        # rebuild may read the topics in another interleaving than the live worker did: take them from any
        # row of the command in the batch, and let a later batch fill them in without moving the status back.
        picked = ", ".join(f"COALESCE({c}, max({c}) OVER same_command)" if c in _KEPT else c for c in COLUMNS)
        ranked = " OR ".join([f"EXCLUDED.rank > {t}.rank"] + [
            f"({t}.{c} IS NULL AND EXCLUDED.{c} IS NOT NULL)" for c in _KEPT])
        updates = ", ".join(
            f"{c} = COALESCE({t}.{c}, EXCLUDED.{c})" if c in _KEPT else
            f"{c} = CASE WHEN EXCLUDED.rank > {t}.rank THEN EXCLUDED.{c} ELSE {t}.{c} END" for c in COLUMNS[1:])
        cur.execute(
            f"INSERT INTO {t} ({', '.join(COLUMNS)}) SELECT DISTINCT ON (command_id) {picked} FROM {source} "
            f"WINDOW same_command AS (PARTITION BY command_id) "
            f"ORDER BY command_id, rank DESC, event_topic, event_offset "
            f"ON CONFLICT (command_id) DO UPDATE SET {updates} WHERE {ranked}", params)
        changes = Changes()
        for row in rows:
            if row[1] in FINAL:
                changes.statuses[row[0]] = status_body(dict(zip(COLUMNS, row, strict=True)))
        return changes


def status_body(row: dict) -> dict:
    """The public shape of a command status (HTTP answer and hot cache)."""
    body = {"command_id": row["command_id"], "status": row["status"], "tenant_id": row["tenant_id"]}
    for key in ("message_id", "rule", "code", "reason", "approval_id", "impact_score"):
        if row.get(key) is not None:
            body[key] = row[key]
    if row["status"] == "registered":
        body["agent_id"] = row["from_agent"]
    body["updated_at"] = row["updated_at"]
    return body
