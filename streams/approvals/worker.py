"""The approvals writer process: single writer of the aggregates of the partitions it is assigned.

Loop, each turn:
  1. poll a batch of ``approval.commands``; in ONE Postgres transaction apply every command (events, state,
     results, outbox) and store the next offsets (so a crash neither loses nor repeats a command's effect);
  2. fire lapsed deadlines of the assigned partitions (each in its own transaction; the event's version
     key makes a second firing impossible, and the deadline moves or vanishes with the event);
  3. publish the outbox to Kafka in id order (acks=all, idempotent producer), then delete what was acked;
  4. wake the gateway's waiters for the results of step 1 (Redis pub/sub).
Notifications are delivered by a second thread (``streams.notifications.delivery``).
"""

from __future__ import annotations

import logging
import signal
import threading

import orjson
import psycopg
import redis
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from acgs.settings import Settings
from commands.directory import NOTIFY_CHANNEL
from projections.base import load_offsets, next_offsets, store_offsets
from projections.consuming import FETCH_ON_ARRIVAL, make_consumer, poll_batch, positions
from projections.runner import DeadLetters
from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from schemas.topics import APPROVAL_COMMANDS, PRODUCER_MAX_BYTES
from streams.approvals import store
from streams.approvals.writer import ApprovalWriter
from streams.notifications.delivery import NotificationDelivery

log = logging.getLogger("acgs.approvals")
OUTBOX_LOCK = 4243  # advisory lock: one publisher at a time keeps each aggregate's records in order


class ApprovalWorker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = AvroCodec()
        self.writer = ApprovalWriter(self.codec)
        self._stop = threading.Event()
        self._assigned: set[int] = set()
        self._redis = redis.Redis.from_url(settings.redis_dsn)
        self._dead_letters = DeadLetters(settings.kafka_bootstrap, self.codec, "approval-writer")
        self._producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True,
                                   "acks": "all", "linger.ms": 1, "log_level": 3,
                                   "message.max.bytes": PRODUCER_MAX_BYTES})

    def stop(self) -> None:
        self._stop.set()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = load_offsets(self._conn, store.WRITER)
        self._conn.commit()
        consumer.assign(positions(partitions, stored))
        self._assigned = {p.partition for p in partitions}
        log.info("approval writer owns partitions %s", sorted(self._assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned -= {p.partition for p in partitions}
        consumer.unassign()

    def run(self) -> None:
        self._conn = self._connect()
        # A short session: after a crash, the partitions (and their timers) move on within seconds.
        consumer = make_consumer(self.settings.kafka_bootstrap, store.WRITER, **{"session.timeout.ms": 6000,
                                 "heartbeat.interval.ms": 1000, **FETCH_ON_ARRIVAL})
        consumer.subscribe([APPROVAL_COMMANDS], on_assign=self._on_assign, on_revoke=self._on_revoke)
        tick = self.settings.approval_timer_tick_s
        try:
            while not self._stop.is_set():
                try:
                    done = self._apply(poll_batch(consumer, 500, tick))
                    self._fire_deadlines()
                    self._publish_outbox()
                    self._wake(done)
                except psycopg.OperationalError as exc:
                    # The batch's transaction is gone: reconnect and read again from the offsets Postgres kept.
                    log.warning("approval writer: Postgres error, resuming from the stored offsets: %s", exc)
                    self._recover(consumer)
        finally:
            consumer.close()
            self._producer.flush(10)
            self._conn.close()

    def _apply(self, messages: list) -> list[str]:
        live = [m for m in messages if m.error() is None or m.error().code() != KafkaError._PARTITION_EOF]
        live = [m for m in live if m.error() is None]
        if not live:
            return []
        done = []
        with self._conn.transaction(), self._conn.cursor() as cur:
            for msg in live:
                try:
                    _, command = self.codec.decode_from(msg.topic(), msg.value())
                except CodecError as exc:
                    self._dead_letters(msg, exc)
                    continue
                try:
                    with self._conn.transaction():  # savepoint: one bad command never undoes the batch
                        self.writer.handle(cur, command, msg.partition())
                except psycopg.OperationalError as exc:
                    if not isinstance(exc, psycopg.errors.ProgramLimitExceeded):
                        raise  # Postgres itself failed: the whole batch is read again
                    self._poison(cur, msg, command, exc)
                except Exception as exc:  # noqa: BLE001 - a poison command must not stall its partition
                    self._poison(cur, msg, command, exc)
                if isinstance(command.get("request_id"), str):
                    done.append(command["request_id"])
            store_offsets(cur, store.WRITER, next_offsets([(m.topic(), m.partition(), m.offset()) for m in live]))
        return done

    def _connect(self) -> psycopg.Connection:
        while True:
            try:
                return psycopg.connect(self.settings.postgres_dsn)
            except psycopg.OperationalError as exc:
                if self._stop.wait(0.5):
                    raise
                log.warning("approval writer: Postgres unavailable, retrying: %s", exc)

    def _recover(self, consumer: Consumer) -> None:
        """After a Postgres failure: a new connection, and every partition moved back to its stored offset
        (the failed batch's commands, results and offsets were rolled back together)."""
        try:
            self._conn.close()
        except psycopg.Error:
            pass
        while not self._stop.is_set():
            try:
                self._conn = self._connect()
                self._on_assign(consumer, consumer.assignment())
                return
            except psycopg.OperationalError as exc:
                log.warning("approval writer: Postgres unavailable, retrying: %s", exc)
                self._stop.wait(0.5)

    def _poison(self, cur: psycopg.Cursor, msg, command: dict, exc: Exception) -> None:  # noqa: ANN001
        """A command the writer cannot apply: dead-lettered, and answered with a 500 where it can be, so the
        gateway's request does not wait out its deadline."""
        log.error("approval command %s/%s/%s failed: %s: %s", msg.topic(), msg.partition(), msg.offset(),
                  type(exc).__name__, exc)
        reason = f"{type(exc).__name__}: {exc}"
        self._dead_letters.reject(msg, "processor_error", reason)
        try:
            with self._conn.transaction():
                store.save_result(cur, command["request_id"], command["approval_id"], 500, "internal_error",
                                  reason, None)
        except (KeyError, TypeError, ValueError, psycopg.DataError, psycopg.IntegrityError,
                psycopg.errors.ProgramLimitExceeded) as unanswerable:
            log.error("no result stored for the failed command: %s", unanswerable)

    def _fire_deadlines(self) -> None:
        if not self._assigned:
            return
        while True:
            with self._conn.transaction(), self._conn.cursor() as cur:
                due = store.due(cur, sorted(self._assigned), limit=1)
                if not due:
                    return
                approval_id, partition = due[0]
                if not self.writer.fire_deadline(cur, approval_id, partition):
                    return  # the clock read by the domain is behind Postgres': next tick
                log.info("deadline of %s fired", approval_id)

    def _publish_outbox(self) -> None:
        with self._conn.transaction():
            if not self._conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (OUTBOX_LOCK,)).fetchone()[0]:
                return
            rows = self._conn.execute("SELECT id, topic, key, value, headers FROM approval_outbox ORDER BY id "
                                      "LIMIT 1000").fetchall()
            if not rows:
                return
            failures: list = []
            for _, topic, key, value, headers in rows:
                self._producer.produce(topic, key=bytes(key), value=bytes(value),
                                       headers=[(k, v.encode()) for k, v in headers],
                                       on_delivery=lambda err, _m: err is not None and failures.append(err))
            pending = self._producer.flush(30)
            if pending or failures:
                raise RuntimeError(f"outbox publish not acknowledged: {failures[:1]} pending={pending}")
            self._conn.execute("DELETE FROM approval_outbox WHERE id <= %s", (rows[-1][0],))

    def _wake(self, request_ids: list[str]) -> None:
        if not request_ids:
            return
        try:
            self._redis.publish(NOTIFY_CHANNEL, orjson.dumps({"r": request_ids}))
        except redis.RedisError as exc:
            log.warning("approval result wake-up failed (waiters fall back to polling): %s", exc)


def run(settings: Settings) -> None:
    """Run the writer and the notification deliverer until SIGTERM/SIGINT."""
    worker = ApprovalWorker(settings)
    delivery = NotificationDelivery(settings.postgres_dsn, settings.notify_max_attempts, settings.notify_backoff_s,
                                    settings.notify_timeout_s)

    def _stop(*_: object) -> None:
        worker.stop()
        delivery.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threads = [threading.Thread(target=worker.run, name="approval-writer"),
               threading.Thread(target=delivery.run, name="notification-delivery")]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.5)
