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
"""

from __future__ import annotations

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

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


class BatchingConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> BatchingConsumerThread:
        return BatchingConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = BatchingConsumer


TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
