"""The live projection worker: one consumer for all projections, one Postgres transaction per batch.

Commit steps, in order, per batch:
  1. every projection applies its share of the decoded events to its read model (idempotent SQL);
  2. each stores its next offsets in ``projection_offsets`` (one statement for all) — same transaction;
  3. COMMIT;
  4. refresh the Redis hot cache and wake long-polls (a lost wake-up only delays a poller to its deadline);
  5. at most once a second, commit the offsets to Kafka too, asynchronously, for operators' lag tools
     (never read back; an OffsetCommit per batch would cost the broker more than the batch itself).
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import psycopg
import redis
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from projections.base import (RECORD_ERRORS, Changes, Event, Projection, apply_each, load_offsets, next_offsets,
                              store_all_offsets)
from projections.consuming import FETCH_ON_ARRIVAL, decode_batch, make_consumer, poll_batch, positions
from projections.notify import RedisNotifier
from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from schemas.topics import DLQ, PRODUCER_MAX_BYTES
from streams.gate import ConstitutionalGate, RawRecord

log = logging.getLogger("acgs.projections")
MAX_BATCH = 2000
GROUP_ID = "acgs-projections"


class DeadLetters:
    """Poison records met by a projection go to ``acgs.dlq`` like the gate's."""

    def __init__(self, bootstrap: str, codec: AvroCodec, processor: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                                   "message.max.bytes": PRODUCER_MAX_BYTES})
        self._codec = codec
        self._processor = processor

    def __call__(self, msg: Message, exc: CodecError) -> None:
        self.reject(msg, exc.code, str(exc))

    def reject(self, msg: Message, code: str, reason: str) -> None:
        raw = RawRecord(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), list(msg.headers() or []))
        out = ConstitutionalGate.dead_letter_for(self._codec, raw, code, reason, self._processor)
        self._producer.produce(out.topic, key=out.key, value=out.value, headers=out.headers)
        self._producer.flush(10)


class ProjectionWorker:
    """Runs projections on one consumer: each batch is decoded once and applied by every projection that reads
    its topics, all in one Postgres transaction with each projection's next offsets.

    One consumer and one commit per batch for the whole read side, instead of one per projection: on two
    cores the broker's fetch handling and Postgres's commits were a large share of each command's cost.
    Each projection keeps its own offsets (a rebuild moves one projection's only), so a partition starts at
    the lowest offset any of its projections needs, and a projection skips records it has already applied.
    """

    def __init__(self, projections: list[Projection], bootstrap: str, dsn: str, redis_url: str,
                 group_id: str = GROUP_ID) -> None:
        self.projections = projections
        self._group_id = group_id
        self._topics = sorted({t for p in projections for t in p.topics})
        self._bootstrap = bootstrap
        self._dsn = dsn
        self._codec = AvroCodec()
        self._notifier = RedisNotifier(redis.Redis.from_url(redis_url))
        self._dead_letters = DeadLetters(bootstrap, self._codec, "projections")
        self._stop = threading.Event()
        self._kafka_commit_at = 0.0
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._applied: dict[str, dict[tuple[str, int], int]] = {p.name: {} for p in projections}

    def stop(self) -> None:
        self._stop.set()

    def _positions(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """Load every projection's stored offsets; start each partition at the lowest one that needs it."""
        self._applied = {p.name: load_offsets(self._conn, p.name) for p in self.projections}
        self._conn.commit()
        starts = {}
        for tp in partitions:
            key = (tp.topic, tp.partition)
            starts[key] = min(self._applied[p.name].get(key, 0) for p in self.projections if tp.topic in p.topics)
        return positions(partitions, {k: v for k, v in starts.items() if v > 0})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.assign(self._positions(partitions))
        log.info("projections assigned %s", [(p.topic, p.partition) for p in partitions])

    def run(self) -> None:
        self._conn = _connect(self._dsn)
        consumer = make_consumer(self._bootstrap, self._group_id, **FETCH_ON_ARRIVAL)
        consumer.subscribe(self._topics, on_assign=self._on_assign)
        try:
            while not self._stop.is_set():
                messages = poll_batch(consumer, MAX_BATCH, 0.2)
                if messages:
                    self._apply(consumer, messages)
        finally:
            consumer.close()
            self._conn.close()

    def _apply(self, consumer: Consumer, messages: list[Message]) -> None:
        live = [m for m in messages if m.error() is None]
        if not live:
            return
        events = decode_batch(self._codec, live, self._dead_letters)
        positions_read = [(m.topic(), m.partition(), m.offset()) for m in live]
        work = []
        for projection in self.projections:
            applied = self._applied[projection.name]
            mine = [e for e in events if e.topic in projection.topics
                    and e.offset >= applied.get((e.topic, e.partition), 0)]
            nexts = next_offsets([p for p in positions_read if p[0] in projection.topics])
            if nexts:
                work.append((projection, mine, nexts))
        try:
            try:
                changes = self._commit(work)
            except RECORD_ERRORS as exc:
                log.error("projections: a batch of %d records failed (%s: %s); applying them one at a time",
                          len(live), type(exc).__name__, exc)
                by_position = {(m.topic(), m.partition(), m.offset()): m for m in live}

                def reject(event: Event, projection: str, error: Exception) -> None:
                    self._dead_letters.reject(by_position[event[:3]], "projection_failed",
                                              f"projection {projection}: {type(error).__name__}: {error}")

                changes = self._commit(work, reject)
        except psycopg.OperationalError as exc:
            # Postgres went away. Commits are asynchronous (see _connect), so the last ones may be lost too:
            # reconnect and resume every partition from the offsets Postgres actually kept.
            log.warning("projections: Postgres error, resuming from the stored offsets: %s", exc)
            time.sleep(0.5)
            self._conn = _connect(self._dsn)
            consumer.assign(self._positions(consumer.assignment()))
            return
        for projection, _, nexts in work:
            self._applied[projection.name].update(nexts)
        merged = Changes()
        for change in changes:
            merged.statuses.update(change.statuses)
            merged.inboxes |= change.inboxes
        try:
            self._notifier.publish(merged)
        except redis.RedisError as exc:
            log.warning("projections: Redis notify failed (pollers fall back to deadlines): %s", exc)
        self._uncommitted.update(next_offsets(positions_read))
        if time.monotonic() >= self._kafka_commit_at:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in self._uncommitted.items()],
                            asynchronous=True)
            self._uncommitted.clear()
            self._kafka_commit_at = time.monotonic() + 1.0


    def _commit(self, work: list[tuple[Projection, list[Event], dict]], reject=None) -> list[Changes]:  # noqa: ANN001
        """Apply and store offsets in one transaction; with ``reject``, record by record (``apply_each``)."""
        with self._conn.transaction(), self._conn.cursor() as cur:
            if reject is None:
                changes = [projection.apply(cur, mine) for projection, mine, _ in work if mine]
            else:
                changes = apply_each(cur, [(projection, mine) for projection, mine, _ in work if mine], reject)
            store_all_offsets(cur, {projection.name: nexts for projection, _, nexts in work})
        return changes


def _connect(dsn: str) -> psycopg.Connection:
    """A connection with asynchronous commit, retried until Postgres answers.

    A commit then returns before its WAL reaches disk. That is safe here because rows and offsets commit
    together: a Postgres crash can only lose whole recent batches, offsets included, and the worker reads
    them from Kafka again (it resumes from the stored offsets whenever it reconnects).
    """
    while True:
        try:
            return psycopg.connect(dsn, options="-c synchronous_commit=off")
        except psycopg.OperationalError:
            time.sleep(0.5)


def run_worker(worker: ProjectionWorker) -> None:
    """Run the projections on a thread until SIGTERM/SIGINT."""
    thread = threading.Thread(target=worker.run, name="projections")

    def _stop(*_: object) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    thread.start()
    while thread.is_alive():
        thread.join(timeout=0.5)
