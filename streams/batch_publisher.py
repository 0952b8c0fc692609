"""Acknowledged batch sends from asyncio through librdkafka, for the gate's outputs.

The gate used to send each output through faust's ``Topic.send`` and aiokafka's producer, which builds every
produce request in Python: under load that was about a third of the gate's CPU. librdkafka does the same
work in C on its own threads. ``send`` hands a batch to librdkafka and returns its ``Delivery``, resolved once
the broker acknowledged every record of it (acks=all, idempotent); the gate keeps a few deliveries in flight
(streams/ack_pipeline.py) and lets faust acknowledge a batch's source records only after its delivery resolved.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from confluent_kafka import KafkaError, Message

from streams.exceptions import PublishError
from streams.gate import Output
from streams.kafka_publisher import acked_producer


class Delivery:
    """Counts the acknowledgements of one batch on librdkafka's thread; wakes the loop once, at the end."""

    __slots__ = ("future", "loop", "remaining", "failures", "topic")

    def __init__(self, loop: asyncio.AbstractEventLoop, outputs: Sequence[Output]) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.remaining = len(outputs)
        self.topic = outputs[0].topic if outputs else ""
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

    async def acknowledged(self, timeout_s: float) -> None:
        """Return once every record is acknowledged; raise PublishError if one failed or time ran out."""
        if self.remaining == 0 and not self.future.done():
            self._finish()  # an empty batch, or the callback's wake-up has not run yet
        try:
            await asyncio.wait_for(asyncio.shield(self.future), timeout_s)
        except TimeoutError:
            raise PublishError(self.topic, self.remaining, "no acknowledgement in time") from None


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

    async def send(self, outputs: Sequence[Output]) -> Delivery:
        """Hand ``outputs`` to librdkafka in order, without waiting for the broker; await the result later."""
        delivery = Delivery(asyncio.get_running_loop(), outputs)
        for out in outputs:
            while True:
                try:
                    self._producer.produce(out.topic, key=out.key, value=out.value, headers=out.headers,
                                           on_delivery=delivery.on_delivery)
                    break
                except BufferError:  # local queue full: wait for acknowledgements to drain it
                    await asyncio.sleep(0.01)
        return delivery

    async def wait(self, delivery: Delivery) -> None:
        """Return once ``delivery`` is acknowledged, else raise PublishError."""
        await delivery.acknowledged(self._timeout_s + 5.0)

    async def publish(self, outputs: Sequence[Output]) -> None:
        """Send ``outputs`` in order; return once all are acknowledged, else raise PublishError."""
        await self.wait(await self.send(outputs))

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.flush(timeout_s)
        self._running = False
        self._poller.join(timeout=2)
