"""The agent → tenant directory, owned by the stream gate: first seen wins, and it never changes.

Postgres is the truth (an INSERT ... ON CONFLICT DO NOTHING makes "first seen" atomic across workers); Redis
holds a mirror the gateway reads to refuse cross-tenant sends before they reach Kafka.
"""

from __future__ import annotations

from typing import Protocol

import psycopg
import redis.asyncio as aioredis

import orjson

from commands.directory import AGENT_TENANTS_KEY, NOTIFY_CHANNEL

DDL = """
CREATE TABLE IF NOT EXISTS agent_tenants (
    agent_id   text PRIMARY KEY,
    tenant_id  text NOT NULL,
    first_seen_command text NOT NULL
);
"""


class AgentDirectory(Protocol):
    async def tenants_of(self, agents: list[str]) -> dict[str, str]: ...

    async def register(self, tenant_id: str, agents: list[str], command_id: str) -> dict[str, str]: ...


class MemoryAgentDirectory:
    """In-process fake with the same first-seen-wins semantics (unit tests)."""

    def __init__(self) -> None:
        self.tenants: dict[str, str] = {}

    async def tenants_of(self, agents: list[str]) -> dict[str, str]:
        return {a: self.tenants[a] for a in agents if a in self.tenants}

    async def register(self, tenant_id: str, agents: list[str], command_id: str) -> dict[str, str]:
        for agent in agents:
            self.tenants.setdefault(agent, tenant_id)
        return await self.tenants_of(agents)


class PostgresAgentDirectory:
    def __init__(self, dsn: str, redis_client: aioredis.Redis | None) -> None:
        self._dsn = dsn
        self._conn: psycopg.AsyncConnection | None = None
        self._redis = redis_client
        self._cache: dict[str, str] = {}

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        return self._conn

    async def tenants_of(self, agents: list[str]) -> dict[str, str]:
        missing = [a for a in agents if a not in self._cache]
        if missing:
            conn = await self._connection()
            rows = await (await conn.execute(
                "SELECT agent_id, tenant_id FROM agent_tenants WHERE agent_id = ANY(%s)", (missing,))).fetchall()
            self._cache.update(dict(rows))
            if rows and self._redis is not None:
                await self._redis.hset(AGENT_TENANTS_KEY, mapping=dict(rows))  # re-mirror after a Redis restart
        return {a: self._cache[a] for a in agents if a in self._cache}

    async def register(self, tenant_id: str, agents: list[str], command_id: str) -> dict[str, str]:
        conn = await self._connection()
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO agent_tenants (agent_id, tenant_id, first_seen_command) VALUES (%s, %s, %s) "
                "ON CONFLICT (agent_id) DO NOTHING", [(a, tenant_id, command_id) for a in agents])
        for agent in agents:
            self._cache.pop(agent, None)
        known = await self.tenants_of(agents)
        if self._redis is not None and known:
            await self._redis.hset(AGENT_TENANTS_KEY, mapping=known)
            await self._redis.publish(NOTIFY_CHANNEL, orjson.dumps({"a": list(known)}))
        return known

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
