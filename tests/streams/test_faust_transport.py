"""The gate's faust transport batches fetches by setting aiokafka consumer attributes faust gives no setting for."""

from __future__ import annotations

import asyncio

import aiokafka
import pytest
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


def _consumer():  # noqa: ANN202 - a faust consumer built by this transport; nothing connects until it starts
    import faust

    app = faust.App("transport-test", broker=f"{faust_transport.SCHEME}://127.0.0.1:9", web_enabled=False)
    return app.consumer


def test_a_delivery_that_does_not_wait_makes_no_task(monkeypatch):
    import mode.services

    made = []
    real = mode.services.asyncio.ensure_future
    monkeypatch.setattr(mode.services.asyncio, "ensure_future", lambda *a, **k: made.append(a) or real(*a, **k))

    async def run() -> tuple:
        consumer = _consumer()
        delivered = []

        async def deliver(record: str) -> str:
            delivered.append(record)
            return record

        result = await consumer.wait_first(deliver("r1"), consumer.suspend_flow.wait())
        return result, delivered

    (done, results, stopped), delivered = asyncio.run(run())
    assert delivered == ["r1"] and results == ["r1"] and stopped is False and len(done) == 1
    assert made == []


def test_a_delivery_that_waits_completes_as_with_mode():
    async def run() -> tuple:
        consumer = _consumer()
        room = asyncio.get_running_loop().create_future()
        entered = asyncio.Event()

        async def deliver() -> str:
            entered.set()
            await room  # a full stream buffer
            return "delivered"

        waiting = asyncio.ensure_future(consumer.wait_first(deliver(), consumer.suspend_flow.wait()))
        await asyncio.wait_for(entered.wait(), 5)
        assert not waiting.done()
        room.set_result(None)
        return await asyncio.wait_for(waiting, 5)

    _, results, stopped = asyncio.run(run())
    assert results == ["delivered"] and stopped is False


def test_a_rebalance_abandons_a_waiting_delivery():
    """The reason faust races the delivery against suspend_flow: a stopped flow must not wait on a full buffer."""
    async def run() -> tuple:
        consumer = _consumer()
        cancelled = asyncio.Event()
        entered = asyncio.Event()

        async def deliver() -> None:
            entered.set()
            try:
                await asyncio.get_running_loop().create_future()  # never gets room
            except asyncio.CancelledError:
                cancelled.set()
                raise

        waiting = asyncio.ensure_future(consumer.wait_first(deliver(), consumer.suspend_flow.wait()))
        await asyncio.wait_for(entered.wait(), 5)
        consumer.stop_flow()
        result = await asyncio.wait_for(waiting, 5)
        await asyncio.wait_for(cancelled.wait(), 5)
        return result

    done, results, _ = asyncio.run(run())
    assert len(done) == 1 and results == [True]  # the flow's wait won; the delivery was cancelled


def test_a_delivery_that_fails_raises_its_error():
    async def run() -> None:
        consumer = _consumer()

        async def deliver() -> None:
            raise ValueError("undeliverable")

        async def deliver_later() -> None:
            await asyncio.sleep(0)
            raise KeyError("undeliverable later")

        with pytest.raises(ValueError):
            await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
        with pytest.raises(KeyError):
            await consumer.wait_first(deliver_later(), consumer.suspend_flow.wait())

    asyncio.run(run())


def test_with_the_flow_stopped_the_call_goes_to_mode_unchanged():
    async def run() -> tuple:
        consumer = _consumer()
        consumer.stop_flow()

        async def deliver() -> str:
            return "delivered"

        return await asyncio.wait_for(consumer.wait_first(deliver(), consumer.suspend_flow.wait()), 5)

    done, _, stopped = asyncio.run(run())
    assert done and stopped is False


def test_fausts_drain_loop_still_delivers_through_wait_first_and_suspend_flow():
    """Guard for BatchingConsumer.wait_first: if faust changes this call, an upgrade must fail here."""
    import inspect

    from faust.transport.consumer import Consumer

    source = inspect.getsource(Consumer._drain_messages)
    assert "self.wait_first(" in source and "callback(message), self.suspend_flow.wait()" in source
