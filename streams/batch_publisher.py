"""Acknowledged batch sends from asyncio through librdkafka, for the gate's outputs.

The gate used to send each output through faust's ``Topic.send`` and aiokafka's producer, which builds every
produce request in Python: under load that was about a third of the gate's CPU. librdkafka does the same
work in C on its own threads. The gate awaits one future per batch, resolved when the broker acknowledged
every record of it (acks=all, idempotent), and only then lets faust acknowledge the batch's source records.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from confluent_kafka import KafkaError, Message

from streams.exceptions import PublishError
from streams.gate import Output
from streams.kafka_publisher import acked_producer


class _Batch:
    """Counts the acknowledgements of one batch on librdkafka's thread; wakes the loop once, at the end."""

    __slots__ = ("future", "loop", "remaining", "failures")

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.remaining = size
        self.failures: list[tuple[str, KafkaError]] = []

    def on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failures.append((msg.topic(), err))
        self.remaining -= 1  # only the poller thread runs delivery callbacks
        if self.remaining == 0:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if self.future.done():
            return
        if self.failures:
            topic, err = self.failures[0]
            self.future.set_exception(PublishError(topic, len(self.failures), err.str()))
        else:
            self.future.set_result(None)


class AsyncBatchPublisher:
    def __init__(self, bootstrap: str, client_id: str, linger_ms: int = 2, timeout_s: float = 30.0) -> None:
        self._timeout_s = timeout_s
        self._producer = acked_producer(bootstrap, client_id, linger_ms, timeout_s)
        self._running = True
        self._poller = threading.Thread(target=self._poll_loop, name=f"{client_id}-delivery", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while self._running:
            self._producer.poll(0.1)

    async def publish(self, outputs: Sequence[Output]) -> None:
        """Send ``outputs`` in order; return once all are acknowledged, else raise PublishError."""
        if not outputs:
            return
        batch = _Batch(asyncio.get_running_loop(), len(outputs))
        for out in outputs:
            while True:
                try:
                    self._producer.produce(out.topic, key=out.key, value=out.value, headers=out.headers,
                                           on_delivery=batch.on_delivery)
                    break
                except BufferError:  # local queue full: wait for acknowledgements to drain it
                    await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(asyncio.shield(batch.future), self._timeout_s + 5.0)
        except TimeoutError:
            raise PublishError(outputs[0].topic, batch.remaining, "no acknowledgement in time") from None

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.flush(timeout_s)
        self._running = False
        self._poller.join(timeout=2)
