"""Long-poll wake-ups: one Redis subscription per gateway process, fanned out to waiting requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

import orjson
import redis.asyncio as aioredis

from commands.directory import NOTIFY_CHANNEL

log = logging.getLogger("acgs.query_api")


class Wakeups:
    def __init__(self, client: aioredis.Redis, on_agents_registered=None) -> None:  # noqa: ANN001
        self._redis = client
        self._on_agents_registered = on_agents_registered
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self.subscriptions = 0  # how many times the listener has (re)subscribed

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="wakeups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def register(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters[key].add(event)
        return event

    def unregister(self, key: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]

    def _fire(self, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(NOTIFY_CHANNEL)
                self.subscriptions += 1
                async for message in pubsub.listen():
                    self._handle(orjson.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis restarts: resubscribe, pollers still time out
                log.warning("wake-up subscription lost (%s); retrying", exc)
                await asyncio.sleep(0.5)
            finally:
                # redis-py may already have reconnected this subscription on its own: left open, it would
                # stay subscribed with no reader, and Redis would buffer every notification for it.
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _handle(self, note: dict) -> None:
        if "a" in note and self._on_agents_registered is not None:
            self._on_agents_registered(note["a"])
        if not self._waiters:
            return
        for command_id in note.get("c", ()):
            self._fire(f"cmd:{command_id}")
        for tenant, agent in note.get("i", ()):
            self._fire(f"inbox:{tenant}:{agent}")
        for request_id in note.get("r", ()):
            self._fire(f"approval-result:{request_id}")


async def wait_for(wakeups: Wakeups, key: str, timeout_s: float, ready) -> object:  # noqa: ANN001
    """Return ``await ready()`` once it is truthy, re-checking on every wake-up, or the last value at deadline."""
    event = wakeups.register(key)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            event.clear()  # before the check: a wake-up arriving during the query is kept
            value = await ready()
            remaining = deadline - loop.time()
            if value or remaining <= 0:
                return value
            try:
                # Capped waits also cover a wake-up lost while Redis was away.
                await asyncio.wait_for(event.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                pass
    finally:
        wakeups.unregister(key, event)
