"""Long-poll wake-ups travel from the projection worker's commit to the waiting requests over Redis pub/sub.

The long-poll also re-checks its read model once a second, so an end-to-end test over HTTP cannot tell a
wake-up from that re-check. These tests watch the wake-up itself: the event a waiting request sleeps on is
set only by a notification that arrived over Redis.
"""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis

from commands.directory import NOTIFY_CHANNEL
from projections.base import Changes
from projections.notify import RedisNotifier
from query_api.wakeups import Wakeups
from tests.integration.conftest import unique


def _subscribers(client: redis.Redis) -> int:
    return dict(client.pubsub_numsub(NOTIFY_CHANNEL)).get(NOTIFY_CHANNEL.encode(), 0)


async def _listening(redis_url: str, sync: redis.Redis) -> tuple[Wakeups, aioredis.Redis]:
    """A started ``Wakeups`` whose subscription Redis has confirmed (counted among the channel's subscribers)."""
    before = _subscribers(sync)
    client = aioredis.Redis.from_url(redis_url)
    wakeups = Wakeups(client)
    wakeups.start()
    async with asyncio.timeout(20):
        while _subscribers(sync) <= before:
            await asyncio.sleep(0.02)
    return wakeups, client


def test_a_commit_notification_wakes_exactly_the_long_polls_it_names(platform):
    url = platform.settings.redis_dsn
    sync = redis.Redis.from_url(url)
    command, other_command = unique("cmd"), unique("cmd")
    tenant, agent = unique("tenant"), unique("agent")

    async def scenario() -> None:
        wakeups, client = await _listening(url, sync)
        try:
            status = wakeups.register(f"cmd:{command}")
            inbox = wakeups.register(f"inbox:{tenant}:{agent}")
            bystanders = [wakeups.register(f"cmd:{other_command}"), wakeups.register(f"inbox:{tenant}:other")]
            RedisNotifier(sync).publish(Changes(statuses={command: {"command_id": command, "status": "delivered"}},
                                                inboxes={(tenant, agent)}))
            async with asyncio.timeout(20):
                await asyncio.gather(status.wait(), inbox.wait())
            # The notification was handled as one message: anything it woke is already set.
            assert not any(e.is_set() for e in bystanders)
        finally:
            await wakeups.stop()
            await client.aclose()

    asyncio.run(scenario())
    assert sync.get(f"acgs:cmd:{command}") is not None  # and the hot status cache was refreshed with it


def test_a_wakeup_after_a_lost_subscription_still_arrives(platform):
    """Kill the subscriber's connection from the Redis side: the listener resubscribes and wakes the next poll."""
    url = platform.settings.redis_dsn
    sync = redis.Redis.from_url(url)
    command = unique("cmd")

    async def scenario() -> None:
        wakeups, client = await _listening(url, sync)
        try:
            subscribed = _subscribers(sync)
            sync.client_kill_filter(_type="pubsub")  # every pub/sub connection, the gateway's too: all resubscribe
            async with asyncio.timeout(20):
                while wakeups.subscriptions < 2:
                    await asyncio.sleep(0.05)
                # and the lost subscription is closed, not left subscribed beside the new one
                while _subscribers(sync) != subscribed:
                    await asyncio.sleep(0.05)
            event = wakeups.register(f"cmd:{command}")
            RedisNotifier(sync).publish(Changes(statuses={command: {"command_id": command, "status": "rejected"}}))
            async with asyncio.timeout(20):
                await event.wait()
        finally:
            await wakeups.stop()
            await client.aclose()

    asyncio.run(scenario())
