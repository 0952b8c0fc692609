"""The notification queue in Postgres: jobs enqueued in the same transaction as the approval events that
caused them (an outbox), delivered with retries and exponential backoff, dead-lettered after the last one."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from streams.notifications.messages import CHANNELS, build

NOTIFY_DDL = """
CREATE TABLE IF NOT EXISTS notification_configs (
    tenant_id  text PRIMARY KEY,
    config     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS notification_jobs (
    id              bigserial PRIMARY KEY,
    job_key         text UNIQUE NOT NULL,
    tenant_id       text NOT NULL,
    channel         text NOT NULL,
    event           text NOT NULL,
    target          jsonb NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending',
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX IF NOT EXISTS notification_jobs_due ON notification_jobs (next_attempt_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS notification_dead_letters (
    job_id    bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    channel   text NOT NULL,
    event     text NOT NULL,
    attempts  int NOT NULL,
    error     text NOT NULL,
    payload   jsonb NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
"""


def tenant_config(cur: psycopg.Cursor, tenant_id: str) -> dict[str, Any]:
    row = cur.execute("SELECT config FROM notification_configs WHERE tenant_id = %s", (tenant_id,)).fetchone()
    return row[0] if row else {}


def enqueue(cur: psycopg.Cursor, tenant_id: str, event: str, state: dict[str, Any], key: str,
            config: dict[str, Any] | None = None) -> list[int]:
    """Queue one job per configured channel that takes ``event``; ``key`` makes a replay enqueue nothing."""
    config = tenant_config(cur, tenant_id) if config is None else config
    ids = []
    for channel in CHANNELS:
        target = config.get(channel)
        if not target:
            continue
        payload = build(channel, event, state, target)
        if payload is None:
            continue
        row = cur.execute(
            "INSERT INTO notification_jobs (job_key, tenant_id, channel, event, target, payload) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (job_key) DO NOTHING RETURNING id",
            (f"{key}:{channel}", tenant_id, channel, event, Jsonb(target), Jsonb(payload))).fetchone()
        if row:
            ids.append(row[0])
    return ids


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
