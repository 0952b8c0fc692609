"""The audit stream processor: every record of the audited topics becomes one leaf of the RFC 6962 log.

Single writer. A log has one total order, so one consumer reads every partition of every audited topic by
manual assignment (no consumer group, no rebalance hands partitions to a second instance), and a Postgres
advisory lock keeps a second worker idle while the first holds it. A plain confluent-kafka consumer rather than
faust: the consumer offsets must live in the same Postgres transaction as the leaves (faust commits them to
Kafka), and faust runs partitions as concurrent streams, which a single sequencer must not do.

Order: within a partition, Kafka's order; across partitions, each fetched batch is merged by record timestamp
(ties by topic, partition, offset): a pure function of the batch. Once appended, the order is the leaf index,
published on ``audit.logs``, which is what verifiers replay.

Commit steps, per batch:
  1. drop records below the stored offsets, and events whose event_id already has a leaf (an at-least-once
     producer upstream re-sent it: same id, new offset);
  2. append their leaf hashes, SHA-256(0x00 || exact value bytes), to the Merkle log (new nodes → audit_nodes);
  3. insert the leaf rows, the new size and the next offsets (projection_offsets, name ``audit_log``);
  4. COMMIT (steps 2-3 are one transaction, so a crash can neither lose nor double a leaf);
  5. publish one record per leaf on ``audit.logs`` and record the published size (a crash before this
     republishes the same records, same leaf_index, on restart).
Checkpoints, every ``checkpoint_interval_s`` when the log grew, or at once on ``NOTIFY acgs_audit_seal``:
  1. root, and the consistency proof from the previous checkpoint; 2. sign; 3. INSERT, COMMIT; 4. publish.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from commands.intake import now_ms
from projections.base import load_offsets, next_offsets, store_offsets
from projections.consuming import FETCH_ON_ARRIVAL, make_consumer, poll_batch
from schemas.codec import AvroCodec
from schemas.topics import AUDIT_CHECKPOINTS, AUDIT_LOGS
from streams.audit import pg_store
from streams.audit.merkle import MerkleLog, leaf_hash
from streams.audit.pg_store import PostgresNodeStore
from streams.audit.records import (
    CheckpointSealed,
    LeafAppended,
    SourceRecord,
    checkpoint_to_wire,
    describe,
    leaf_to_wire,
)
from streams.audit.sealing import seal
from streams.exceptions import PublishError
from streams.kafka_publisher import KafkaPublisher

log = logging.getLogger("acgs.audit")

OFFSETS_NAME = "audit_log"
CONSUMER_GROUP = "acgs-audit-log"
SEAL_CHANNEL = "acgs_audit_seal"
WRITER_LOCK = 0x6163_6773_6175_6474  # "acgsaudt": one writer per database
ASSIGNMENT_REFRESH_S = 5.0
PUBLISH_CHUNK = 20000


@dataclass(frozen=True)
class AuditLogConfig:
    bootstrap: str
    dsn: str
    topics: tuple[str, ...]
    origin: str
    checkpoint_interval_s: float
    batch_max: int


def merge_partitions(records: Iterable[SourceRecord]) -> list[SourceRecord]:
    """The batch in log order: each partition's records in offset order, merged by (timestamp, position)."""
    ordered = sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    runs = [list(run) for _, run in groupby(ordered, key=lambda r: (r.topic, r.partition))]
    # heapq.merge keeps each run's order even where producer timestamps go backwards within a partition.
    return list(heapq.merge(*runs, key=lambda r: (r.timestamp_ms, r.topic, r.partition, r.offset)))


def source_record(msg: Message) -> SourceRecord:
    _, timestamp = msg.timestamp()
    return SourceRecord(msg.topic(), msg.partition(), msg.offset(), max(timestamp, 0), msg.value() or b"")


class AuditLogWorker:
    """Runs the log: consume, append, commit, publish, seal. One instance per database (advisory lock)."""

    def __init__(self, config: AuditLogConfig, key: Ed25519PrivateKey, publisher: KafkaPublisher,
                 codec: AvroCodec | None = None) -> None:
        self.config = config
        self._key = key
        self._publisher = publisher
        self._codec = codec or AvroCodec()
        self._origin_key = config.origin.encode()
        self._stop = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._listen: psycopg.Connection | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._assigned_at = 0.0
        self._last_seal_at = 0.0

    def stop(self) -> None:
        self._stop.set()

    # --- lifecycle --------------------------------------------------------------------------------------

    def run(self) -> None:
        consumer = make_consumer(self.config.bootstrap, CONSUMER_GROUP, **FETCH_ON_ARRIVAL)
        try:
            self._open(consumer)
            while not self._stop.is_set():
                try:
                    self._tick(consumer)
                except psycopg.OperationalError as exc:
                    # Nothing of the failed step was committed: reload the committed log and re-read from there.
                    log.warning("Postgres error, reopening the log at its committed state: %s", exc)
                    self._open(consumer)
        finally:
            consumer.close()
            self._close()
            self._publisher.close()

    def _open(self, consumer: Consumer) -> None:
        """Connect, take the writer lock, load the committed log, and position the consumer on it."""
        self._close()
        self._conn = self._connect(autocommit=True)
        self._take_writer_lock()
        size, published = pg_store.open_state(self._conn, self.config.origin)
        self._log = MerkleLog(PostgresNodeStore(self._conn), size)
        self._offsets = load_offsets(self._conn, OFFSETS_NAME)
        self._last_checkpoint = pg_store.latest_checkpoint(self._conn, self.config.origin)
        self._unpublished_leaves = pg_store.leaves_between(self._conn, published, size)
        self._unpublished_checkpoints = pg_store.unpublished_checkpoints(self._conn, self.config.origin)
        self._listen = self._connect(autocommit=True)
        self._listen.execute(f"LISTEN {SEAL_CHANNEL}")
        consumer.unassign()
        self._assigned.clear()
        self._assign(consumer)
        log.info("audit log %s open at size %d (published %d); auditing %s", self.config.origin, size, published,
                 ", ".join(self.config.topics))

    def _connect(self, autocommit: bool) -> psycopg.Connection:
        delay = 0.2
        while True:
            try:
                return psycopg.connect(self.config.dsn, autocommit=autocommit, connect_timeout=3)
            except psycopg.OperationalError as exc:
                log.warning("Postgres unreachable (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _take_writer_lock(self) -> None:
        waiting = False
        while not self._conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()[0]:
            if not waiting:
                log.warning("another audit log writer holds the lock; waiting for it to stop")
                waiting = True
            if self._stop.wait(1.0):
                raise SystemExit(0)

    def _close(self) -> None:
        for conn in (self._conn, self._listen):
            if conn is not None and not conn.closed:
                conn.close()
        self._conn = self._listen = None

    def _assign(self, consumer: Consumer) -> None:
        """Assign every partition of every audited topic not yet assigned (topics and partitions may appear)."""
        self._assigned_at = time.monotonic()
        try:
            metadata = consumer.list_topics(timeout=10)
        except KafkaException as exc:
            log.warning("Kafka metadata unavailable (%s); assignment retried in %.0fs", exc, ASSIGNMENT_REFRESH_S)
            return
        wanted = []
        for topic in self.config.topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                log.warning("audited topic %s does not exist yet; will look again", topic)
                continue
            wanted += [(topic, p) for p in sorted(found.partitions) if (topic, p) not in self._assigned]
        if wanted:
            consumer.incremental_assign([TopicPartition(t, p, self._offsets.get((t, p), OFFSET_BEGINNING))
                                         for t, p in wanted])
            self._assigned.update(wanted)

    # --- one turn of the loop -----------------------------------------------------------------------------

    def _tick(self, consumer: Consumer) -> None:
        messages = [m for m in poll_batch(consumer, self.config.batch_max, self._poll_timeout()) if self._usable(m)]
        if messages:
            self._append(consumer, [source_record(m) for m in messages])
        if self._seal_due():
            self._seal()
        self._publish_pending()
        if time.monotonic() - self._assigned_at > ASSIGNMENT_REFRESH_S:
            self._assign(consumer)

    def _poll_timeout(self) -> float:
        """Wait for records at most until the next checkpoint is due (if the log grew), else 0.2 s."""
        if not self._grew():
            return 0.2
        due = self._last_seal_at + self.config.checkpoint_interval_s - time.monotonic()
        return max(0.0, min(0.2, due))

    def _grew(self) -> bool:
        sealed = self._last_checkpoint.tree_size if self._last_checkpoint is not None else 0
        return self._log.size > sealed

    @staticmethod
    def _usable(msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return True
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", err)
        return False

    def _append(self, consumer: Consumer, records: list[SourceRecord]) -> None:
        fresh = [r for r in records if r.offset >= self._offsets.get((r.topic, r.partition), 0)]
        nexts = next_offsets([(r.topic, r.partition, r.offset) for r in records])
        with self._conn.transaction(), self._conn.cursor() as cur:
            leaves = self._leaves_for(cur, merge_partitions(fresh))  # steps 1-2
            if leaves:
                pg_store.insert_leaves(cur, leaves)  # step 3
                pg_store.store_size(cur, self._log.size)
            store_offsets(cur, OFFSETS_NAME, nexts)
        # step 4 done: the batch is committed
        self._offsets.update(nexts)
        self._unpublished_leaves.extend(leaves)
        if len(leaves) < len(fresh):
            log.info("skipped %d re-delivered event(s) already in the log", len(fresh) - len(leaves))
        try:  # for operators' lag tools only: the offsets that count are in Postgres
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in nexts.items()], asynchronous=True)
        except KafkaException as exc:
            log.debug("Kafka offset commit skipped: %s", exc)

    def _leaves_for(self, cur: psycopg.Cursor, ordered: list[SourceRecord]) -> list[LeafAppended]:
        facts = [describe(self._codec, r.value) for r in ordered]
        seen = pg_store.logged_event_ids(cur, [f.event_id for f in facts if f.event_id])
        chosen = []
        for record, fact in zip(ordered, facts, strict=True):
            if fact.event_id is not None:
                if fact.event_id in seen:
                    continue
                seen.add(fact.event_id)
            chosen.append((record, fact))
        hashes = [leaf_hash(r.value) for r, _ in chosen]
        indexes = self._log.append_leaf_hashes(hashes)
        return [LeafAppended(i, h, r.topic, r.partition, r.offset, f.event_id, f.event_type, f.tenant_id,
                             r.timestamp_ms) for i, h, (r, f) in zip(indexes, hashes, chosen, strict=True)]

    # --- checkpoints and publication ----------------------------------------------------------------------

    def _seal_requested(self) -> bool:
        return any(True for _ in self._listen.notifies(timeout=0))

    def _seal_due(self) -> bool:
        requested = self._seal_requested()
        if not self._grew():
            return False
        return requested or time.monotonic() - self._last_seal_at >= self.config.checkpoint_interval_s

    def _seal(self) -> None:
        checkpoint = seal(self._log, self.config.origin, self._key, self._last_checkpoint, now_ms())
        pg_store.insert_checkpoint(self._conn, checkpoint)
        self._last_checkpoint = checkpoint
        self._last_seal_at = time.monotonic()
        self._unpublished_checkpoints.append(checkpoint)

    def _publish_pending(self) -> None:
        try:
            while self._unpublished_leaves:
                leaves = self._unpublished_leaves[:PUBLISH_CHUNK]
                self._publisher.publish(AUDIT_LOGS, [(self._origin_key, leaf_to_wire(leaf)) for leaf in leaves])
                pg_store.store_published_size(self._conn, leaves[-1].leaf_index + 1)
                del self._unpublished_leaves[:len(leaves)]
            if self._unpublished_checkpoints:
                checkpoints: list[CheckpointSealed] = self._unpublished_checkpoints
                self._publisher.publish(AUDIT_CHECKPOINTS,
                                        [(self._origin_key, checkpoint_to_wire(cp)) for cp in checkpoints])
                pg_store.mark_checkpoints_published(self._conn, [cp.tree_size for cp in checkpoints])
                self._unpublished_checkpoints = []
        except PublishError as exc:
            log.warning("publishing the audit log failed, will retry: %s", exc)
