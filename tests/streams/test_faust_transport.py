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


def test_the_fetch_follows_the_input_rate():
    assert faust_transport.fetch_for_rate(0) == faust_transport.IDLE_FETCH == (1, 500)
    assert faust_transport.fetch_for_rate(faust_transport.BUSY_RECORDS_PER_S - 1) == faust_transport.IDLE_FETCH
    assert faust_transport.fetch_for_rate(faust_transport.BUSY_RECORDS_PER_S) == faust_transport.BUSY_FETCH
    assert faust_transport.BUSY_FETCH == (faust_transport.FETCH_MIN_BYTES, faust_transport.FETCH_MAX_WAIT_MS)


def test_set_fetch_reaches_the_running_fetcher_and_waits_for_one():
    from types import SimpleNamespace

    thread = SimpleNamespace(aiokafka_consumer=SimpleNamespace(_fetcher=None))
    faust_consumer = SimpleNamespace(_thread=thread)
    assert faust_transport.set_fetch(faust_consumer, (1, 500)) is False  # not started yet
    fetcher = thread.aiokafka_consumer._fetcher = SimpleNamespace(_fetch_min_bytes=16384, _fetch_max_wait_ms=5)
    assert faust_transport.set_fetch(faust_consumer, (1, 500)) is True
    assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (1, 500)


def test_aiokafka_builds_each_fetch_request_from_the_fetchers_current_attributes():
    """Guard for set_fetch: if aiokafka stops reading these per request, an upgrade must fail here."""
    import inspect

    from aiokafka.consumer.fetcher import Fetcher

    source = inspect.getsource(Fetcher._get_actions_per_node)
    assert "self._fetch_max_wait_ms" in source and "self._fetch_min_bytes" in source
    assert "FetchRequest(" in source
