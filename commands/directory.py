"""Ports the gateway uses besides the command log: idempotency records and the agent→tenant directory.

The stream gate owns the agent directory (Postgres, first seen wins) and mirrors it into Redis; the gateway
only reads it to refuse obviously cross-tenant sends early. Adapters are Redis-backed.
"""

from __future__ import annotations

import asyncio

import orjson
import redis.asyncio as aioredis

AGENT_TENANTS_KEY = "acgs:agent_tenant"
IDEMPOTENCY_PREFIX = "acgs:idem:"
STATUS_PREFIX = "acgs:cmd:"
_PENDING = b"pending"


class RedisAgentDirectory:
    """Agent → tenant lookups; an agent's tenant never changes, so hits are cached in-process."""

    def __init__(self, client: aioredis.Redis, cache_size: int = 100_000) -> None:
        self._redis = client
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    async def tenants_of(self, *agents: str) -> list[str | None]:
        missing = [a for a in agents if a not in self._cache]
        if missing:
            found = await self._redis.hmget(AGENT_TENANTS_KEY, missing)
            for agent, tenant in zip(missing, found, strict=True):
                if tenant is not None and len(self._cache) < self._cache_size:
                    self._cache[agent] = tenant.decode()
        return [self._cache.get(a) for a in agents]


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


class RedisStatusCache:
    """Hot command-status cache: the gateway marks ``accepted``, projections overwrite with final states."""

    def __init__(self, client: aioredis.Redis, ttl_s: int = 24 * 3600) -> None:
        self._redis = client
        self._ttl_s = ttl_s

    async def mark_accepted(self, command_id: str, body: dict) -> None:
        await self._redis.set(STATUS_PREFIX + command_id, orjson.dumps(body), nx=True, ex=self._ttl_s)

    async def get(self, command_id: str) -> dict | None:
        raw = await self._redis.get(STATUS_PREFIX + command_id)
        return orjson.loads(raw) if raw else None
