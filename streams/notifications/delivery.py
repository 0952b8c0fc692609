"""The delivery loop: take due jobs, attempt each, then record delivered / retry later / dead letter.

Backoff: attempt n (1-based) failing schedules the next after ``backoff_s * 2**(n-1)``; after
``max_attempts`` the job is failed and copied to ``notification_dead_letters`` (visible over HTTP).
A job's row stays locked (FOR UPDATE SKIP LOCKED) during its attempt, so two deliverers never send it twice.
"""

from __future__ import annotations

import logging
import threading


import httpx
import psycopg
from psycopg.types.json import Jsonb

from streams.notifications.exceptions import DeliveryFailed
from streams.notifications.senders import send

log = logging.getLogger("acgs.notifications")


class NotificationDelivery:
    def __init__(self, dsn: str, max_attempts: int, backoff_s: float, timeout_s: float) -> None:
        self._dsn = dsn
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=timeout_s)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                conn = conn if conn is not None and not conn.closed else psycopg.connect(self._dsn)
                if not self.deliver_due(conn):
                    self._stop.wait(0.1)
            except psycopg.OperationalError as exc:
                log.warning("notification delivery: Postgres error, retrying: %s", exc)
                conn = None
                self._stop.wait(0.5)
        self._client.close()

    def deliver_due(self, conn: psycopg.Connection) -> int:
        """Attempt every due job once (one transaction per job); return how many were attempted."""
        done = 0
        while not self._stop.is_set():
            with conn.transaction():
                row = conn.execute(
                    "SELECT id, tenant_id, channel, event, target, payload, attempts FROM notification_jobs "
                    "WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at "
                    "LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()
                if row is None:
                    return done
                self._attempt(conn, *row)
            done += 1
        return done

    def _attempt(self, conn: psycopg.Connection, job_id: int, tenant_id: str, channel: str, event: str,
                 target: dict, payload: dict, attempts: int) -> None:
        attempts += 1
        try:
            send(self._client, channel, target, payload, self.timeout_s)
        except DeliveryFailed as exc:
            self._failed(conn, job_id, tenant_id, channel, event, payload, attempts, str(exc))
            return
        conn.execute("UPDATE notification_jobs SET status = 'delivered', attempts = %s, delivered_at = now(), "
                     "last_error = NULL WHERE id = %s", (attempts, job_id))

    def _failed(self, conn: psycopg.Connection, job_id: int, tenant_id: str, channel: str, event: str,
                payload: dict, attempts: int, error: str) -> None:
        if attempts >= self.max_attempts:
            log.warning("notification %s (%s) failed for good after %s attempts: %s", job_id, channel, attempts,
                        error)
            conn.execute("UPDATE notification_jobs SET status = 'failed', attempts = %s, last_error = %s "
                         "WHERE id = %s", (attempts, error, job_id))
            conn.execute("INSERT INTO notification_dead_letters (job_id, tenant_id, channel, event, attempts, "
                         "error, payload) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                         (job_id, tenant_id, channel, event, attempts, error, Jsonb(payload)))
            return
        delay = self.backoff_s * 2 ** (attempts - 1)
        conn.execute("UPDATE notification_jobs SET attempts = %s, last_error = %s, "
                     "next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                     (attempts, error, delay, job_id))


