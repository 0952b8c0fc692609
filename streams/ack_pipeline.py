"""Publish a batch's outputs without waiting, acknowledge its source records once the broker has them.

The gate used to wait for the broker's acknowledgement of one batch before it took the next: under load that
wait (tens of ms, hundreds when the broker pauses for GC) was as long as the processing itself, and the gate
sat idle through it. Here up to ``depth`` batches are in flight at once. One task settles them strictly in
the order they were taken: it waits for a batch's delivery, re-sends the batch until the broker acknowledges
it, and only then acknowledges the batch's source events, so the committed offset never passes an output
that is not durable (at-least-once, as before).

A batch that fails is re-sent after later batches may already have landed. Every output id is derived from
its command, so consumers keep one copy of each, and no consumer relies on the order of events of different
commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from streams.exceptions import PublishError
from streams.gate import Output

log = logging.getLogger("acgs.streams.ack_pipeline")

D = TypeVar("D")


class BatchSender(Protocol[D]):
    """What the pipeline needs of a publisher (streams/batch_publisher.py ``AsyncBatchPublisher``)."""

    async def send(self, outputs: Sequence[Output]) -> D: ...

    async def wait(self, delivery: D) -> None: ...


@dataclass
class _InFlight(Generic[D]):
    events: list[Any]
    outputs: list[Output]
    delivery: D


class AckPipeline(Generic[D]):
    """Keeps up to ``depth`` batches in flight; acknowledges their events in the order they were submitted.

    Use as ``async with AckPipeline(sender, ack) as pipeline: await pipeline.submit(events, outputs)``.
    """

    def __init__(self, sender: BatchSender[D], ack: Callable[[Any], Awaitable[object]], depth: int = 4,
                 retry_max_s: float = 5.0, drain_timeout_s: float = 10.0) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._sender = sender
        self._ack = ack
        self._slots = asyncio.Semaphore(depth)
        self._queue: asyncio.Queue[_InFlight[D]] = asyncio.Queue()
        self._retry_max_s = retry_max_s
        self._drain_timeout_s = drain_timeout_s
        self._settler: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AckPipeline[D]:
        self._settler = asyncio.ensure_future(self._settle_forever())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._settler is not None
        drained = asyncio.ensure_future(self._queue.join())
        try:
            # A clean stop acknowledges what is already durable, so a restart replays less; what is not
            # acknowledged by then is replayed after the restart.
            await asyncio.wait({drained, self._settler}, timeout=self._drain_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
            self._settler.cancel()
            await asyncio.gather(drained, self._settler, return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return self._queue.qsize()

    async def submit(self, events: Sequence[Any], outputs: Sequence[Output]) -> None:
        """Send ``outputs``; their ``events`` are acknowledged once they and every earlier batch are durable.

        Waits while ``depth`` batches are in flight. Raises whatever stopped the settling task.
        """
        self._raise_if_settler_died()
        await self._slots.acquire()
        try:
            self._raise_if_settler_died()
            delivery = await self._sender.send(outputs)
        except BaseException:
            self._slots.release()
            raise
        self._queue.put_nowait(_InFlight(list(events), list(outputs), delivery))

    def _raise_if_settler_died(self) -> None:
        if self._settler is None:
            raise RuntimeError("AckPipeline used outside 'async with'")
        if self._settler.done():
            self._settler.result()  # re-raises its error
            raise RuntimeError("AckPipeline's settling task stopped")

    async def _settle_forever(self) -> None:
        while True:
            batch = await self._queue.get()
            try:
                await self._settle(batch)
                for event in batch.events:
                    await self._ack(event)
            finally:
                self._slots.release()
                self._queue.task_done()

    async def _settle(self, batch: _InFlight[D]) -> None:
        delay = 0.1
        while True:
            try:
                return await self._sender.wait(batch.delivery)
            except PublishError as exc:
                # Re-sending is safe: every output id is derived from its command, so consumers keep one copy.
                log.warning("gate outputs not acknowledged, re-sending %d in %.1fs: %s",
                            len(batch.outputs), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                batch.delivery = await self._sender.send(batch.outputs)
