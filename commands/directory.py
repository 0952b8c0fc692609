"""Ports the gateway uses besides the command log: idempotency records and the agent→tenant directory.

The stream gate owns the agent directory (Postgres, first seen wins) and mirrors it into Redis; the gateway
only reads it to refuse obviously cross-tenant sends early. Adapters are Redis-backed.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import redis.asyncio as aioredis
import redis.exceptions

AGENT_TENANTS_KEY = "acgs:agent_tenant"
IDEMPOTENCY_PREFIX = "acgs:idem:"
STATUS_PREFIX = "acgs:cmd:"
# One pub/sub channel for every wake-up: {"c": [command ids], "i": [[tenant, agent]], "a": [agents registered]}
NOTIFY_CHANNEL = "acgs:notify"
_PENDING = b"pending"
# What redis-py raises when Redis is down or does not answer in time (as opposed to a bad command).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisAgentDirectory:
    """Agent → tenant lookups for the gateway's early refusal.

    An agent's tenant never changes, so hits are cached for good. Misses (agents not yet seen) are cached
    for ``miss_ttl_s``: the stream gate re-checks every command, so a stale miss can only delay a refusal
    from HTTP to the stream, never let a cross-tenant message through.
    """

    def __init__(self, client: aioredis.Redis, cache_size: int = 100_000, miss_ttl_s: float = 1.0) -> None:
        self._redis = client
        self._cache: dict[str, str] = {}
        self._misses: dict[str, float] = {}
        self._cache_size = cache_size
        self._miss_ttl_s = miss_ttl_s

    async def tenants_of(self, *agents: str) -> list[str | None]:
        now = time.monotonic()
        missing = [a for a in agents if a not in self._cache and self._misses.get(a, 0.0) <= now]
        if missing:
            found = await self._redis.hmget(AGENT_TENANTS_KEY, missing)
            if len(self._misses) > self._cache_size:
                self._misses.clear()
            for agent, tenant in zip(missing, found, strict=True):
                if tenant is None:
                    self._misses[agent] = now + self._miss_ttl_s
                elif len(self._cache) < self._cache_size:
                    self._cache[agent] = tenant.decode()
                    self._misses.pop(agent, None)
        return [self._cache.get(a) for a in agents]

    def forget_misses(self, agents: list[str]) -> None:
        """Called when the gate announces new registrations, so a cached miss cannot hide them."""
        for agent in agents:
            self._misses.pop(agent, None)


class RedisIdempotencyStore:
    """``idempotency key → accepted answer``; a claim is taken before the append so replays append nothing."""

    def __init__(self, client: aioredis.Redis, ttl_s: int) -> None:
        self._redis = client
        self._ttl_s = ttl_s

    async def claim(self, key: str) -> bool:
        return bool(await self._redis.set(IDEMPOTENCY_PREFIX + key, _PENDING, nx=True, ex=self._ttl_s))

    async def complete(self, key: str, answer: dict) -> None:
        await self._redis.set(IDEMPOTENCY_PREFIX + key, orjson.dumps(answer), ex=self._ttl_s)

    async def release(self, key: str) -> None:
        await self._redis.delete(IDEMPOTENCY_PREFIX + key)

    async def answer(self, key: str, wait_s: float) -> dict | None:
        """The stored answer; waits up to ``wait_s`` while the first request's append is in flight."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            raw = await self._redis.get(IDEMPOTENCY_PREFIX + key)
            if raw is None:
                return None
            if raw != _PENDING:
                return orjson.loads(raw)
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.01)


class CoalescingSetNX:
    """``SET key value NX EX ttl`` from many concurrent requests, sent as one pipeline per loop turn.

    A Redis round trip through redis-py costs far more CPU than the command itself; under load, requests
    arriving in the same event-loop turn share one pipeline instead of paying for one each.
    """

    def __init__(self, client: aioredis.Redis, ttl_s: int) -> None:
        self._redis = client
        self._ttl_s = ttl_s
        self._pending: list[tuple[str, bytes, asyncio.Future]] = []
        self._flushing: asyncio.Task | None = None

    async def set_nx(self, key: str, value: bytes) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((key, value, future))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the requests of this loop turn join the batch
        batch, self._pending, self._flushing = self._pending, [], None
        pipe = self._redis.pipeline(transaction=False)
        for key, value, _ in batch:
            pipe.set(key, value, nx=True, ex=self._ttl_s)
        try:
            await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - handed to every waiter
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, _, future in batch:
            if not future.done():
                future.set_result(None)


class RedisStatusCache:
    """Hot command-status cache: the gateway marks ``accepted``, projections overwrite with final states."""

    def __init__(self, client: aioredis.Redis, ttl_s: int = 24 * 3600) -> None:
        self._redis = client
        self._setter = CoalescingSetNX(client, ttl_s)

    async def mark_accepted(self, command_id: str, body: dict) -> None:
        await self._setter.set_nx(STATUS_PREFIX + command_id, orjson.dumps(body))

    async def get(self, command_id: str) -> dict | None:
        raw = await self._redis.get(STATUS_PREFIX + command_id)
        return orjson.loads(raw) if raw else None
