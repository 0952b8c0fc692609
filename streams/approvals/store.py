"""The writer's Postgres state: the aggregates' events, their deadlines, command results and an outbox.

One transaction per batch of commands (or per fired timer) writes, together: the new events (primary key
(approval_id, version): a second writer of the same aggregate fails instead of forking it), the aggregate's
status and deadline (the durable timer), the command results the gateway waits for, the Kafka records to
publish (outbox) and the consumed offsets. Publishing the outbox afterwards is at-least-once; every record
carries a deterministic id, and consumers keep the highest version per aggregate.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from commands.approvals import ApprovalRequest, event_from_dict

APPROVALS_DDL = """
CREATE TABLE IF NOT EXISTS approval_event_store (
    approval_id uuid   NOT NULL,
    version     int    NOT NULL,
    type        text   NOT NULL,
    body        jsonb  NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, version)
);
CREATE TABLE IF NOT EXISTS approval_aggregates (
    approval_id uuid PRIMARY KEY,
    partition   int  NOT NULL,
    tenant_id   text NOT NULL,
    status      text NOT NULL,
    level       int  NOT NULL,
    deadline    timestamptz,
    version     int  NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_aggregates_due ON approval_aggregates (partition, deadline)
    WHERE status IN ('pending', 'escalated');
CREATE TABLE IF NOT EXISTS approval_results (
    request_id  text PRIMARY KEY,
    approval_id text NOT NULL,
    status_code int  NOT NULL,
    code        text NOT NULL,
    message     text NOT NULL,
    state       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS approval_outbox (
    id      bigserial PRIMARY KEY,
    topic   text  NOT NULL,
    key     bytea NOT NULL,
    value   bytea NOT NULL,
    headers jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS held_messages (
    approval_id text PRIMARY KEY,
    command_id  text NOT NULL,
    held        jsonb NOT NULL,
    held_at     timestamptz NOT NULL DEFAULT now()
);
"""
WRITER = "approval-writer"  # consumer group and offsets key


def load(cur: psycopg.Cursor, approval_id: uuid.UUID) -> tuple[ApprovalRequest | None, list]:
    """The aggregate rebuilt from its stored events (None if it does not exist) and those events."""
    rows = cur.execute("SELECT body FROM approval_event_store WHERE approval_id = %s ORDER BY version",
                       (approval_id,)).fetchall()
    events = [event_from_dict(body) for (body,) in rows]
    return (ApprovalRequest.rebuild(events) if events else None), events


def append_events(cur: psycopg.Cursor, approval_id: uuid.UUID, bodies: list[dict[str, Any]]) -> None:
    cur.executemany("INSERT INTO approval_event_store (approval_id, version, type, body) VALUES (%s, %s, %s, %s)",
                    [(approval_id, b["originator_version"], b["type"], Jsonb(b)) for b in bodies])


def save_aggregate(cur: psycopg.Cursor, request: ApprovalRequest, partition: int, status: str) -> None:
    cur.execute(
        "INSERT INTO approval_aggregates (approval_id, partition, tenant_id, status, level, deadline, version) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (approval_id) DO UPDATE SET status = EXCLUDED.status, "
        "level = EXCLUDED.level, deadline = EXCLUDED.deadline, version = EXCLUDED.version",
        (request.id, partition, request.tenant_id, status, request.level, request.deadline, request.version))


def due(cur: psycopg.Cursor, partitions: list[int], limit: int = 100) -> list[tuple[uuid.UUID, int]]:
    """Open aggregates of ``partitions`` whose deadline has passed, locked for this transaction."""
    return cur.execute(
        "SELECT approval_id, partition FROM approval_aggregates WHERE partition = ANY(%s) "
        "AND status IN ('pending', 'escalated') AND deadline <= now() ORDER BY deadline LIMIT %s "
        "FOR UPDATE SKIP LOCKED", (partitions, limit)).fetchall()


def result_of(cur: psycopg.Cursor, request_id: str) -> dict[str, Any] | None:
    row = cur.execute("SELECT status_code, code, message, state FROM approval_results WHERE request_id = %s",
                      (request_id,)).fetchone()
    if row is None:
        return None
    return {"status_code": row[0], "code": row[1], "message": row[2], "state": row[3]}


def save_result(cur: psycopg.Cursor, request_id: str, approval_id: str, status_code: int, code: str,
                message: str, state: dict[str, Any] | None) -> None:
    cur.execute("INSERT INTO approval_results (request_id, approval_id, status_code, code, message, state) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (request_id) DO NOTHING",
                (request_id, approval_id, status_code, code, message, Jsonb(state) if state else None))


def outbox(cur: psycopg.Cursor, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    cur.execute("INSERT INTO approval_outbox (topic, key, value, headers) VALUES (%s, %s, %s, %s)",
                (topic, key, value, Jsonb([[k, v.decode()] for k, v in headers])))


def hold(cur: psycopg.Cursor, approval_id: str, command_id: str, held: dict[str, Any]) -> None:
    cur.execute("INSERT INTO held_messages (approval_id, command_id, held) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING", (approval_id, command_id, Jsonb(held)))


def held_message(cur: psycopg.Cursor, approval_id: str) -> dict[str, Any] | None:
    row = cur.execute("SELECT held FROM held_messages WHERE approval_id = %s", (approval_id,)).fetchone()
    return row[0] if row else None
