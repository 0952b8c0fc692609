"""Appending records to Kafka from asyncio: a confluent-kafka idempotent producer (acks=all).

Delivery reports arrive on librdkafka's thread. They are queued there and handed to each event loop in one
wake-up per poll (not one per record), and each resolves the asyncio future of its append, so an HTTP
handler answers only once the broker has acknowledged the record.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Producer

from acgs.metrics import PRODUCE_LATENCY
from commands.exceptions import CommandLogUnavailable, RecordTooLarge
from schemas.topics import PRODUCER_MAX_BYTES


LINGER_MS = 4


@dataclass(frozen=True, slots=True)
class Appended:
    topic: str
    partition: int
    offset: int


class KafkaCommandLog:
    """Async, acknowledged appends; fails fast with CommandLogUnavailable while all brokers are down."""

    def __init__(self, bootstrap: str, timeout_ms: int, client_id: str = "acgs-gateway") -> None:
        self._timeout_ms = timeout_ms
        self._brokers_down_since: float | None = None
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            # Each produce request costs the broker far more CPU than a record in it; at 1 ms a busy gateway
            # sent one or two records per request.
            "linger.ms": LINGER_MS,
            "message.max.bytes": PRODUCER_MAX_BYTES,
            "message.timeout.ms": timeout_ms,
            "socket.connection.setup.timeout.ms": 2000,
            "reconnect.backoff.max.ms": 500,
            "error_cb": self._on_error,
            "log_level": 3,
        })
        # (loop, future, error, message, produced at) of acknowledged appends, filled on the poller thread
        self._reports: deque = deque()
        self._latency: dict[str, object] = {}
        self._running = True
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down_since = time.monotonic()

    def _poll_loop(self) -> None:
        while self._running:
            if self._producer.poll(0.1) and self._reports:
                self._hand_over()

    def _hand_over(self) -> None:
        """Give each event loop its delivery reports in one call_soon_threadsafe."""
        batches: dict[asyncio.AbstractEventLoop, list] = {}
        reports = self._reports
        while reports:
            report = reports.popleft()
            batches.setdefault(report[0], []).append(report)
        for loop, batch in batches.items():
            try:
                loop.call_soon_threadsafe(self._resolve, batch)
            except RuntimeError:  # that loop is closed: nobody waits for these appends any more
                pass

    def _resolve(self, batch: list) -> None:  # runs on the event loop
        now = time.perf_counter()
        for _, future, err, msg, started in batch:
            if future.done():
                continue
            topic = msg.topic()
            if err is not None:
                future.set_exception(CommandLogUnavailable("kafka_unavailable",
                                                           f"Kafka did not acknowledge: {err.str()}"))
                continue
            future.set_result(Appended(topic, msg.partition(), msg.offset()))
            histogram = self._latency.get(topic)
            if histogram is None:
                histogram = self._latency[topic] = PRODUCE_LATENCY.labels(topic)
            histogram.observe(now - started)

    @property
    def available(self) -> bool:
        return self._brokers_down_since is None

    def _check_available(self) -> None:
        if self._brokers_down_since is None:
            return
        # Probe at most every half second; a good metadata answer means the brokers are back.
        if time.monotonic() - self._brokers_down_since < 0.5:
            raise CommandLogUnavailable("kafka_unavailable", "Kafka brokers are down; retry later")
        try:
            self._producer.list_topics(timeout=1.0)
            self._brokers_down_since = None
        except Exception:  # noqa: BLE001 - any failure means still down
            self._brokers_down_since = time.monotonic()
            raise CommandLogUnavailable("kafka_unavailable", "Kafka brokers are down; retry later") from None

    async def append(self, topic: str, key: bytes | str, value: bytes,
                     headers: list[tuple[str, bytes]] | None = None) -> Appended:
        self._check_available()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Appended] = loop.create_future()
        started = time.perf_counter()
        reports = self._reports

        def on_delivery(err: KafkaError | None, msg) -> None:  # runs on the poller thread
            reports.append((loop, future, err, msg, started))

        try:
            self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
        except BufferError:
            raise CommandLogUnavailable("kafka_backpressure", "producer queue is full; retry later") from None
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                raise RecordTooLarge("record_too_large", f"the encoded command ({len(value)} bytes) exceeds the "
                                     f"{PRODUCER_MAX_BYTES}-byte record limit") from None
            raise
        # librdkafka enforces message.timeout.ms; the extra second only guards against a lost report.
        guard = loop.call_later(self._timeout_ms / 1000 + 1.0, _expire, future)
        try:
            return await future
        finally:
            guard.cancel()

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.flush(timeout_s)
        self._running = False
        self._poller.join(timeout=2)
        if self._reports:
            self._hand_over()


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(CommandLogUnavailable("kafka_unavailable", "no acknowledgement from Kafka in time"))
