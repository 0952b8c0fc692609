"""faust's aiokafka transport, with the gate's fetches batched (``acgs-kafka://`` broker URLs).

faust builds its aiokafka consumer with ``fetch_min_bytes=1``, so under a steady stream every fetch returns
the one or two records that arrived since the last, and each one crosses from faust's consumer thread to
the agent's loop on its own: profiled under load, that traffic was the largest part of the gate's CPU.
Asking the broker for at least ``FETCH_MIN_BYTES`` or ``FETCH_MAX_WAIT_MS``, whichever comes first, bounds
the fetch rate at a cost of at most that wait in latency.

faust offers no setting for these, so the consumer thread sets them on the aiokafka consumer it creates,
before the consumer starts (aiokafka reads them when it builds its fetcher). ``tests/streams`` checks that
the attributes still exist, so an aiokafka upgrade that renames them fails loudly instead of silently.
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


class BatchingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        return batch_fetches(super()._create_worker_consumer(transport))


class BatchingConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> BatchingConsumerThread:
        return BatchingConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = BatchingConsumer


TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
