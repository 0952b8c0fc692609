"""The agent → tenant directory, owned by the stream gate: first seen wins, and it never changes.

Postgres is the truth (an INSERT ... ON CONFLICT DO NOTHING makes "first seen" atomic across workers); Redis
holds a mirror the gateway reads to refuse cross-tenant sends before they reach Kafka. Each binding keeps the
command that made it, so the gate can tell, also when Kafka delivers that command again, that this command
is the one whose ``AgentRegistered`` event announces the binding.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

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
CREATE INDEX IF NOT EXISTS agent_tenants_by_tenant ON agent_tenants (tenant_id, agent_id);
"""


class Binding(NamedTuple):
    tenant_id: str
    command_id: str  # the command that bound the agent (a registration, or the first message naming it)


class AgentDirectory(Protocol):
    async def bindings_of(self, agents: list[str]) -> dict[str, Binding]:
        """The bindings of those of ``agents`` that are bound."""

    async def bind(self, tenant_id: str, agents: list[str], command_id: str) -> dict[str, Binding]:
        """Bind each of ``agents`` not yet bound to ``tenant_id`` by ``command_id``; their bindings after it."""


class MemoryAgentDirectory:
    """In-process fake with the same first-seen-wins semantics (unit tests)."""

    def __init__(self) -> None:
        self.bindings: dict[str, Binding] = {}

    @property
    def tenants(self) -> dict[str, str]:
        return {agent: b.tenant_id for agent, b in self.bindings.items()}

    async def bindings_of(self, agents: list[str]) -> dict[str, Binding]:
        return {a: self.bindings[a] for a in agents if a in self.bindings}

    async def bind(self, tenant_id: str, agents: list[str], command_id: str) -> dict[str, Binding]:
        for agent in agents:
            self.bindings.setdefault(agent, Binding(tenant_id, command_id))
        return await self.bindings_of(agents)


class PostgresAgentDirectory:
    def __init__(self, dsn: str, redis_client: aioredis.Redis | None) -> None:
        self._dsn = dsn
        self._conn: psycopg.AsyncConnection | None = None
        self._redis = redis_client
        self._cache: dict[str, Binding] = {}

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        return self._conn

    async def bindings_of(self, agents: list[str]) -> dict[str, Binding]:
        missing = [a for a in agents if a not in self._cache]
        if missing:
            conn = await self._connection()
            rows = await (await conn.execute(
                "SELECT agent_id, tenant_id, first_seen_command FROM agent_tenants WHERE agent_id = ANY(%s)",
                (missing,))).fetchall()
            self._cache.update((agent, Binding(tenant, command)) for agent, tenant, command in rows)
            if rows and self._redis is not None:  # re-mirror after a Redis restart
                await self._redis.hset(AGENT_TENANTS_KEY, mapping={agent: tenant for agent, tenant, _ in rows})
        return {a: self._cache[a] for a in agents if a in self._cache}

    async def bind(self, tenant_id: str, agents: list[str], command_id: str) -> dict[str, Binding]:
        conn = await self._connection()
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO agent_tenants (agent_id, tenant_id, first_seen_command) VALUES (%s, %s, %s) "
                "ON CONFLICT (agent_id) DO NOTHING", [(a, tenant_id, command_id) for a in agents])
        for agent in agents:
            self._cache.pop(agent, None)
        known = await self.bindings_of(agents)
        if self._redis is not None and known:
            await self._redis.hset(AGENT_TENANTS_KEY, mapping={a: b.tenant_id for a, b in known.items()})
            await self._redis.publish(NOTIFY_CHANNEL, orjson.dumps({"a": list(known)}))
        return known

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
