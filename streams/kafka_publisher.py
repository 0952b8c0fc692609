"""Acknowledged batch appends of Avro records (idempotent producer, acks=all), for processors outside faust."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from schemas.codec import AvroCodec
from schemas.topics import PRODUCER_MAX_BYTES
from streams.exceptions import PublishError


def acked_producer(bootstrap: str, client_id: str, linger_ms: int, timeout_s: float) -> Producer:
    """An idempotent producer whose records count as written only once all in-sync replicas have them."""
    return Producer({
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms,
        "message.max.bytes": PRODUCER_MAX_BYTES,
        "message.timeout.ms": int(timeout_s * 1000),
        "log_level": 3,
    })


class KafkaPublisher:
    """Publishes a batch and returns once the broker acknowledged all of it, or raises PublishError."""

    def __init__(self, bootstrap: str, codec: AvroCodec, client_id: str, timeout_s: float = 30.0) -> None:
        self._codec = codec
        self._timeout_s = timeout_s
        self._producer = acked_producer(bootstrap, client_id, linger_ms=2, timeout_s=timeout_s)

    def publish(self, topic: str, records: Sequence[tuple[bytes, dict[str, Any]]]) -> None:
        """Append ``(key, record)`` pairs to ``topic`` in order; raise PublishError unless all are acknowledged."""
        if not records:
            return
        failures: list[KafkaError] = []

        def on_delivery(err: KafkaError | None, _: Message) -> None:
            if err is not None:
                failures.append(err)

        for key, record in records:
            value = self._codec.encode(topic, record)
            while True:
                try:
                    self._producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                    break
                except BufferError:  # local queue full: let deliveries drain
                    self._producer.poll(0.05)
        pending = self._producer.flush(self._timeout_s)
        if pending or failures:
            detail = failures[0].str() if failures else f"{pending} still in flight after {self._timeout_s}s"
            raise PublishError(topic, pending + len(failures), detail)

    def close(self) -> None:
        self._producer.flush(5)
