"""faust's aiokafka transport, with the gate's fetches batched (``acgs-kafka://`` broker URLs).

faust builds its aiokafka consumer with ``fetch_min_bytes=1``, so under a steady stream every fetch returns
the one or two records that arrived since the last, and each one crosses from faust's consumer thread to
the agent's loop on its own: profiled under load, that traffic was the largest part of the gate's CPU.
Asking the broker for at least ``FETCH_MIN_BYTES`` or ``FETCH_MAX_WAIT_MS``, whichever comes first, bounds
the fetch rate at a cost of at most that wait in latency.

faust offers no setting for these, so the consumer thread sets them on the aiokafka consumer it creates,
before the consumer starts (aiokafka reads them when it builds its fetcher). With few records that batching
only costs empty polls, so the gate switches its running fetcher between the two (``fetch_for_rate``,
``set_fetch``). ``tests/streams`` checks that the attributes still exist and are read per request, so an
aiokafka upgrade that renames them fails loudly instead of silently.

The consumer also hands each fetched record to the streams without the four asyncio tasks faust's drain
loop asks mode for per record, unless the delivery actually has to wait (``BatchingConsumer.wait_first``);
``tests/streams`` guards the drain loop's call the same way.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults
from mode.utils.locks import Event

SCHEME = "acgs-kafka"
FETCH_MIN_BYTES = 16 * 1024
FETCH_MAX_WAIT_MS = 5


def batch_fetches(consumer: aiokafka.AIOKafkaConsumer) -> aiokafka.AIOKafkaConsumer:
    if not hasattr(consumer, "_fetch_min_bytes") or not hasattr(consumer, "_fetch_max_wait_ms"):
        raise RuntimeError("aiokafka.AIOKafkaConsumer no longer keeps _fetch_min_bytes/_fetch_max_wait_ms")
    consumer._fetch_min_bytes = FETCH_MIN_BYTES
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
    return consumer


# Below this many records a second, fetching as soon as one record is there (``IDLE_FETCH``) costs fewer
# requests than asking for FETCH_MIN_BYTES every FETCH_MAX_WAIT_MS, which an idle gate otherwise does 200
# times a second (measured: ~20% of a core between the gate and the broker, with nothing to process).
BUSY_RECORDS_PER_S = 100
BUSY_FETCH = (FETCH_MIN_BYTES, FETCH_MAX_WAIT_MS)
IDLE_FETCH = (1, 500)


def fetch_for_rate(records_per_s: float) -> tuple[int, int]:
    """(fetch min bytes, fetch max wait ms) for the rate the gate has just been seeing."""
    return BUSY_FETCH if records_per_s >= BUSY_RECORDS_PER_S else IDLE_FETCH


class BatchingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    aiokafka_consumer: aiokafka.AIOKafkaConsumer | None = None

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        self.aiokafka_consumer = batch_fetches(super()._create_worker_consumer(transport))
        return self.aiokafka_consumer


def set_fetch(app_consumer: object, fetch: tuple[int, int]) -> bool:
    """Point the running fetcher of a faust consumer built by this transport at ``fetch``.

    aiokafka's fetcher reads both values each time it builds a fetch request, so the next request uses them;
    one in flight finishes as it was asked. Assigning two ints from the agent's thread is safe under the GIL.
    Returns False while there is no fetcher yet (before the consumer started)."""
    thread = getattr(app_consumer, "_thread", None)
    fetcher = getattr(getattr(thread, "aiokafka_consumer", None), "_fetcher", None)
    if fetcher is None:
        return False
    fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = fetch
    return True


class FlowSuspended(Event):
    """faust's ``Consumer.suspend_flow`` (set while a rebalance stops the flow), whose ``wait()`` is an object
    ``BatchingConsumer.wait_first`` can recognise: only faust's drain loop waits on it."""

    def wait(self) -> FlowWait:  # type: ignore[override] - awaitable like the coroutine it replaces
        return FlowWait(self)


class FlowWait:
    __slots__ = ("event",)

    def __init__(self, event: FlowSuspended) -> None:
        self.event = event

    def __await__(self) -> Generator[Any, None, bool]:
        return Event.wait(self.event).__await__()


class Resumed:
    """The rest of a coroutine that has run up to its first suspension, as an awaitable.

    Each future the coroutine waits on is handed, unchanged, to whoever awaits this (a task), and each
    resumption or thrown exception (a cancellation) is passed back into the coroutine."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine, pending: Any) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, None, Any]:
        coro, pending = self.coro, self.pending
        while True:
            try:
                yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown into the coroutine, which decides
                step = coro.throw
                argument: Any = exc
            else:
                step = coro.send
                argument = None
            try:
                pending = step(argument)
            except StopIteration as done:
                return done.value


class BatchingConsumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suspend_flow = FlowSuspended()

    def _new_consumer_thread(self) -> BatchingConsumerThread:
        return BatchingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        """faust's drain loop hands each fetched record to the streams as ``wait_first(deliver(record),
        suspend_flow.wait())``, so that a rebalance can abandon a delivery blocked on a full stream buffer.
        mode's ``wait_first`` makes four tasks for that (the delivery, the flow, stopped, crashed), about
        50 µs per record measured here, where a delivery to a buffer with room never waits at all.

        So while the flow runs, the delivery starts at once, and only one that has to wait becomes a task
        that races the flow as before; every other call goes to mode unchanged."""
        if (timeout is None and len(coros) == 2 and isinstance(coros[1], FlowWait)
                and isinstance(coros[0], Coroutine) and not self.suspend_flow.is_set()
                and not self._stopped.is_set() and not self._crashed.is_set()):
            delivery = coros[0]
            try:
                pending = delivery.send(None)
            except StopIteration as done:
                return WaitResults([delivery], [done.value], False)
            coros = (Resumed(delivery, pending), coros[1])
        return await super().wait_first(*coros, timeout=timeout)


class Transport(faust_aiokafka.Transport):
    Consumer = BatchingConsumer


TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
