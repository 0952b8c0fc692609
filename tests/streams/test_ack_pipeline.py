"""The gate's in-flight batches: source events are acknowledged only after their outputs are durable, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from streams.ack_pipeline import AckPipeline
from streams.batch_publisher import Delivery
from streams.exceptions import PublishError
from streams.gate import Output


def out(name: str) -> Output:
    return Output("agent.messages", name.encode(), name.encode(), [])


class FakeSender:
    """Each send returns a future the test resolves, standing for the broker's acknowledgement."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []
        self.deliveries: list[asyncio.Future[None]] = []

    async def send(self, outputs: Sequence[Output]) -> asyncio.Future[None]:
        self.sent.append([o.key for o in outputs])
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.deliveries.append(delivery)
        return delivery

    async def wait(self, delivery: asyncio.Future[None]) -> None:
        await delivery


async def settle() -> None:
    for _ in range(20):  # let the settling task run everything that is ready
        await asyncio.sleep(0)


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_events_are_acked_in_submission_order_when_later_batches_land_first():
    async def scenario() -> list[str]:
        sender, acked = FakeSender(), []

        async def ack(event: str) -> None:
            acked.append(event)

        async with AckPipeline(sender, ack, depth=4) as pipeline:
            await pipeline.submit(["a1", "a2"], [out("a")])
            await pipeline.submit(["b1"], [out("b")])
            await pipeline.submit(["c1"], [out("c")])
            sender.deliveries[2].set_result(None)
            sender.deliveries[1].set_result(None)
            await settle()
            assert acked == []  # the first batch is not durable yet, so nothing after it may be acked
            sender.deliveries[0].set_result(None)
            await settle()
        return acked

    assert run(scenario()) == ["a1", "a2", "b1", "c1"]


def test_a_failed_batch_is_resent_and_acked_only_once_acknowledged():
    async def scenario() -> tuple[list[str], list[list[bytes]]]:
        sender, acked = FakeSender(), []

        async def ack(event: str) -> None:
            acked.append(event)

        async with AckPipeline(sender, ack, depth=2, retry_max_s=0.01) as pipeline:
            await pipeline.submit(["a1"], [out("a"), out("a2")])
            await pipeline.submit(["b1"], [out("b")])
            sender.deliveries[1].set_result(None)
            sender.deliveries[0].set_exception(PublishError("agent.messages", 1, "broker gone"))
            while len(sender.sent) < 3:  # the re-send of the first batch, after its back-off
                await asyncio.sleep(0.01)
            assert acked == []
            sender.deliveries[2].set_result(None)
            await settle()
        return acked, sender.sent

    acked, sent = run(scenario())
    assert acked == ["a1", "b1"]
    assert sent == [[b"a", b"a2"], [b"b"], [b"a", b"a2"]]


def test_submit_waits_while_depth_batches_are_in_flight():
    async def scenario() -> None:
        sender = FakeSender()

        async def ack(_event: str) -> None:
            return None

        async with AckPipeline(sender, ack, depth=2) as pipeline:
            await pipeline.submit(["a"], [out("a")])
            await pipeline.submit(["b"], [out("b")])
            third = asyncio.ensure_future(pipeline.submit(["c"], [out("c")]))
            await settle()
            assert not third.done() and len(sender.sent) == 2
            sender.deliveries[0].set_result(None)
            await asyncio.wait_for(third, 1)
            assert len(sender.sent) == 3
            for d in sender.deliveries[1:]:
                d.set_result(None)

    run(scenario())


def test_an_error_while_acking_stops_the_next_submit():
    async def scenario() -> None:
        sender = FakeSender()

        async def ack(_event: str) -> None:
            raise RuntimeError("consumer is gone")

        async with AckPipeline(sender, ack, depth=2) as pipeline:
            await pipeline.submit(["a"], [out("a")])
            sender.deliveries[0].set_result(None)
            await settle()
            await pipeline.submit(["b"], [out("b")])

    with pytest.raises(RuntimeError, match="consumer is gone"):
        run(scenario())


def test_leaving_acks_what_is_durable_and_leaves_the_rest_for_replay():
    async def scenario() -> list[str]:
        sender, acked = FakeSender(), []

        async def ack(event: str) -> None:
            acked.append(event)

        async with AckPipeline(sender, ack, depth=4, drain_timeout_s=0.2) as pipeline:
            await pipeline.submit(["a"], [out("a")])
            await pipeline.submit(["b"], [out("b")])
            sender.deliveries[0].set_result(None)
            # "b" never gets its acknowledgement: leaving must not hang, and must not ack it
        return acked

    assert run(scenario()) == ["a"]


class FakeError:
    def str(self) -> str:  # noqa: A003 - librdkafka's KafkaError spells it so
        return "Broker: not enough replicas"


class FakeMessage:
    def topic(self) -> str:
        return "agent.messages"


def test_a_delivery_resolves_when_librdkafka_acknowledged_every_record():
    async def scenario() -> None:
        delivery = Delivery(asyncio.get_running_loop(), [out("a"), out("b")])
        waiting = asyncio.ensure_future(delivery.acknowledged(5))
        await asyncio.to_thread(delivery.on_delivery, None, FakeMessage())
        await settle()
        assert not waiting.done()
        await asyncio.to_thread(delivery.on_delivery, None, FakeMessage())
        await asyncio.wait_for(waiting, 1)

    run(scenario())


def test_a_delivery_with_one_failed_record_raises_publish_error():
    async def scenario() -> None:
        delivery = Delivery(asyncio.get_running_loop(), [out("a"), out("b")])
        await asyncio.to_thread(delivery.on_delivery, FakeError(), FakeMessage())
        await asyncio.to_thread(delivery.on_delivery, None, FakeMessage())
        await delivery.acknowledged(5)

    with pytest.raises(PublishError, match="1 record.*not enough replicas"):
        run(scenario())


def test_a_delivery_that_never_completes_times_out_as_publish_error():
    async def scenario() -> None:
        await Delivery(asyncio.get_running_loop(), [out("a")]).acknowledged(0.05)

    with pytest.raises(PublishError, match="no acknowledgement in time"):
        run(scenario())


def test_an_empty_delivery_is_acknowledged_at_once():
    async def scenario() -> None:
        await Delivery(asyncio.get_running_loop(), []).acknowledged(0.05)

    run(scenario())


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        AckPipeline(FakeSender(), lambda _e: asyncio.sleep(0), depth=0)
