"""The live projection worker: one consumer per projection, one Postgres transaction per batch.

Commit steps, in order, per batch:
  1. apply the decoded events to the read model (idempotent SQL);
  2. store the next offsets in ``projection_offsets`` — same transaction;
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

from projections.base import Projection, load_offsets, next_offsets, store_offsets
from projections.consuming import decode_batch, make_consumer, poll_batch, positions
from projections.notify import RedisNotifier
from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from schemas.topics import DLQ
from streams.gate import ConstitutionalGate, RawRecord

log = logging.getLogger("acgs.projections")
MAX_BATCH = 2000


class DeadLetters:
    """Poison records met by a projection go to ``acgs.dlq`` like the gate's."""

    def __init__(self, bootstrap: str, codec: AvroCodec, processor: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
        self._codec = codec
        self._processor = processor

    def __call__(self, msg: Message, exc: CodecError) -> None:
        raw = RawRecord(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), list(msg.headers() or []))
        out = ConstitutionalGate.dead_letter_for(self._codec, raw, exc.code, str(exc), self._processor)
        self._producer.produce(out.topic, key=out.key, value=out.value, headers=out.headers)
        self._producer.flush(10)


class ProjectionWorker:
    def __init__(self, projection: Projection, bootstrap: str, dsn: str, redis_url: str) -> None:
        self.projection = projection
        self._bootstrap = bootstrap
        self._dsn = dsn
        self._codec = AvroCodec()
        self._notifier = RedisNotifier(redis.Redis.from_url(redis_url))
        self._dead_letters = DeadLetters(bootstrap, self._codec, f"projection:{projection.name}")
        self._stop = threading.Event()
        self._kafka_commit_at = 0.0
        self._uncommitted: dict[tuple[str, int], int] = {}

    def stop(self) -> None:
        self._stop.set()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = load_offsets(self._conn, self.projection.name)
        self._conn.commit()
        consumer.assign(positions(partitions, stored))
        log.info("%s assigned %s", self.projection.name, [(p.topic, p.partition) for p in partitions])

    def run(self) -> None:
        self._conn = _reconnect(self._dsn)
        consumer = make_consumer(self._bootstrap, f"acgs-projection-{self.projection.name}")
        consumer.subscribe(list(self.projection.topics), on_assign=self._on_assign)
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
        nexts = next_offsets([(m.topic(), m.partition(), m.offset()) for m in live])
        while True:
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    changes = self.projection.apply(cur, events) if events else None
                    store_offsets(cur, self.projection.name, nexts)
                break
            except psycopg.OperationalError as exc:
                # Postgres went away: nothing was committed; reconnect and apply the same batch again.
                log.warning("%s: Postgres error, retrying batch: %s", self.projection.name, exc)
                time.sleep(0.5)
                self._conn = _reconnect(self._dsn)
        if changes is not None:
            try:
                self._notifier.publish(changes)
            except redis.RedisError as exc:
                log.warning("%s: Redis notify failed (pollers fall back to deadlines): %s", self.projection.name, exc)
        self._uncommitted.update(nexts)
        if time.monotonic() >= self._kafka_commit_at:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in self._uncommitted.items()],
                            asynchronous=True)
            self._uncommitted.clear()
            self._kafka_commit_at = time.monotonic() + 1.0


def _reconnect(dsn: str) -> psycopg.Connection:
    while True:
        try:
            return psycopg.connect(dsn)
        except psycopg.OperationalError:
            time.sleep(0.5)


def run_workers(workers: list[ProjectionWorker]) -> None:
    """Run each projection on its own thread until SIGTERM/SIGINT."""
    threads = [threading.Thread(target=w.run, name=f"projection-{w.projection.name}") for w in workers]

    def _stop(*_: object) -> None:
        for w in workers:
            w.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.5)
