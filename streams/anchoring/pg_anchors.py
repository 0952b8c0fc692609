"""Postgres adapters of the anchoring worker: where checkpoints come from, and the anchors read model.

``audit_anchors`` holds one row per anchor transaction we know of (sent by us, or found on chain when
reconciling after a crash); ``published`` tracks its record on ``audit.anchors`` (at-least-once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

from schemas.topics import AUDIT_ANCHORS
from streams.anchoring.records import CheckpointAnchored, anchor_to_wire
from streams.audit import pg_store
from streams.audit.merkle import MerkleLog
from streams.audit.pg_store import PostgresNodeStore
from streams.audit.records import CheckpointSealed
from streams.exceptions import PublishError
from streams.kafka_publisher import KafkaPublisher

log = logging.getLogger("acgs.anchoring")
T = TypeVar("T")

ANCHORS_DDL = """
CREATE TABLE IF NOT EXISTS audit_anchors (
    tx_hash          text    PRIMARY KEY,
    chain_id         bigint  NOT NULL,
    contract_address text    NOT NULL,
    anchor_index     bigint  NOT NULL,
    tree_size        bigint  NOT NULL,
    root_hash        bytea   NOT NULL,
    checkpoint_hash  bytea   NOT NULL,
    block_number     bigint  NOT NULL,
    block_hash       text    NOT NULL,
    submitter        text    NOT NULL,
    anchored_at      bigint  NOT NULL,
    submitted_at     bigint,
    confirmed_at     bigint  NOT NULL,
    published        boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS audit_anchors_by_size ON audit_anchors (chain_id, contract_address, tree_size);
"""

ANCHOR_COLUMNS = ("origin", "tree_size", "root_hash", "checkpoint_hash", "chain_id", "contract_address",
                  "anchor_index", "tx_hash", "block_number", "block_hash", "submitter", "anchored_at",
                  "submitted_at", "confirmed_at")


class _Connected:
    """A lazily (re)opened autocommit connection: a Postgres restart costs one failed step, not the worker."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection | None = None

    def _with_conn(self, action: Callable[[psycopg.Connection], T]) -> T:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=3)
        try:
            return action(self._conn)
        except psycopg.OperationalError:
            self._conn.close()
            self._conn = None
            raise


class PostgresCheckpointSource(_Connected):
    """Checkpoints and consistency proofs of the audit log, read from the audit worker's tables."""

    def __init__(self, dsn: str, origin: str) -> None:
        super().__init__(dsn)
        self._origin = origin

    def newest(self) -> CheckpointSealed | None:
        return self._with_conn(lambda c: pg_store.latest_checkpoint(c, self._origin))

    def at_size(self, tree_size: int) -> CheckpointSealed | None:
        return self._with_conn(lambda c: pg_store.checkpoint_at(c, self._origin, tree_size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return self._with_conn(lambda c: MerkleLog(PostgresNodeStore(c), second).consistency_proof(first, second))


class PostgresAnchorRecorder(_Connected):
    """Writes anchors to ``audit_anchors`` then publishes them on ``audit.anchors``."""

    def __init__(self, dsn: str, publisher: KafkaPublisher, origin: str) -> None:
        super().__init__(dsn)
        self._publisher = publisher
        self._origin = origin

    def record(self, anchor: CheckpointAnchored) -> None:
        columns = ANCHOR_COLUMNS[1:]
        values = [getattr(anchor, c) for c in columns]
        self._with_conn(lambda c: c.execute(
            f"INSERT INTO audit_anchors ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT (tx_hash) DO NOTHING", values))
        self.publish_pending()

    def publish_pending(self) -> None:
        """Publish every recorded anchor not yet on ``audit.anchors`` (a failure is retried next time)."""
        origin = self._origin
        rows = self._with_conn(lambda c: c.execute(
            f"SELECT {', '.join(ANCHOR_COLUMNS[1:])} FROM audit_anchors WHERE NOT published "
            f"ORDER BY chain_id, contract_address, anchor_index").fetchall())
        if not rows:
            return
        anchors = [CheckpointAnchored(origin, *(bytes(v) if isinstance(v, memoryview) else v for v in row))
                   for row in rows]
        try:
            self._publisher.publish(AUDIT_ANCHORS, [(origin.encode(), anchor_to_wire(a)) for a in anchors])
        except PublishError as exc:
            log.warning("publishing anchors failed, will retry: %s", exc)
            return
        self._with_conn(lambda c: c.execute("UPDATE audit_anchors SET published = true WHERE tx_hash = ANY(%s)",
                                            ([a.tx_hash for a in anchors],)))

    def known(self, chain_id: int, contract: str) -> tuple[set[str], int]:
        """Tx hashes recorded for this contract, and the highest block among them (0 if none)."""
        rows = self._with_conn(lambda c: c.execute(
            "SELECT tx_hash, block_number FROM audit_anchors WHERE chain_id = %s AND contract_address = %s",
            (chain_id, contract)).fetchall())
        return {r[0] for r in rows}, max((r[1] for r in rows), default=0)


    def last_submitted_ms(self, chain_id: int, contract: str) -> int | None:
        """When we last broadcast an anchor to this contract (survives restarts of the worker)."""
        row = self._with_conn(lambda c: c.execute(
            "SELECT max(submitted_at) FROM audit_anchors WHERE chain_id = %s AND contract_address = %s",
            (chain_id, contract)).fetchone())
        return row[0] if row else None


def now_ms() -> int:
    return time.time_ns() // 1_000_000
