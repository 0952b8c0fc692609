"""The gate's faust transport batches fetches by setting aiokafka consumer attributes faust gives no setting for."""

from __future__ import annotations

import asyncio

import aiokafka
from faust.transport.drivers import TRANSPORTS

from streams import faust_transport


def test_the_scheme_resolves_to_the_batching_transport():
    transport = TRANSPORTS.by_url(f"{faust_transport.SCHEME}://127.0.0.1:9092")
    assert transport is faust_transport.Transport
    assert transport.Consumer is faust_transport.BatchingConsumer


def test_batch_fetches_sets_the_attributes_aiokafka_builds_its_fetcher_from():
    async def build() -> aiokafka.AIOKafkaConsumer:  # aiokafka wants a running loop
        return aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")

    consumer = asyncio.run(build())
    assert consumer._fetch_min_bytes == 1  # aiokafka's default, which faust keeps
    faust_transport.batch_fetches(consumer)
    assert consumer._fetch_min_bytes == faust_transport.FETCH_MIN_BYTES
    assert consumer._fetch_max_wait_ms == faust_transport.FETCH_MAX_WAIT_MS
