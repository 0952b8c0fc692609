"""The agent → tenant directory, owned by the stream gate: first seen wins, and it never changes.

Postgres is the truth (an INSERT ... ON CONFLICT DO NOTHING makes "first seen" atomic across workers); Redis
holds a mirror the gateway reads to refuse cross-tenant sends before they reach Kafka. Each binding keeps the
command that made it, so the gate can tell, also when Kafka delivers that command again, that this command
is the one whose ``AgentRegistered`` event announces the binding.
"""

from __future__ import annotations

from collections.abc import Mapping
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


# Binds the agents of unnest(...) not yet bound, and answers every one of them with its binding: the rows
# this statement inserted, and the rows that were already there. The outer SELECT reads the snapshot the
# statement started with, so it never sees the rows ``inserted`` adds: no agent is answered twice.
BIND = """
WITH wanted (agent_id, tenant_id, first_seen_command) AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
), inserted AS (
    INSERT INTO agent_tenants (agent_id, tenant_id, first_seen_command)
    SELECT agent_id, tenant_id, first_seen_command FROM wanted ORDER BY agent_id
    ON CONFLICT (agent_id) DO NOTHING
    RETURNING agent_id, tenant_id, first_seen_command
)
SELECT agent_id, tenant_id, first_seen_command FROM inserted
UNION ALL
SELECT t.agent_id, t.tenant_id, t.first_seen_command FROM agent_tenants t JOIN wanted w USING (agent_id)
"""


class Binding(NamedTuple):
    tenant_id: str
    command_id: str  # the command that bound the agent (a registration, or the first message naming it)


class AgentDirectory(Protocol):
    async def bindings_of(self, agents: list[str]) -> dict[str, Binding]:
        """The bindings of those of ``agents`` that are bound."""

    async def bind(self, wanted: Mapping[str, Binding]) -> dict[str, Binding]:
        """Bind each agent of ``wanted`` that is not yet bound as ``wanted`` says; the bindings of all of
        them after it (another worker's where it bound one first)."""


class MemoryAgentDirectory:
    """In-process fake with the same first-seen-wins semantics (unit tests)."""

    def __init__(self) -> None:
        self.bindings: dict[str, Binding] = {}
        self.round_trips = 0  # lookups and writes, as the Postgres directory would make them

    @property
    def tenants(self) -> dict[str, str]:
        return {agent: b.tenant_id for agent, b in self.bindings.items()}

    async def bindings_of(self, agents: list[str]) -> dict[str, Binding]:
        self.round_trips += 1
        return {a: self.bindings[a] for a in agents if a in self.bindings}

    async def bind(self, wanted: Mapping[str, Binding]) -> dict[str, Binding]:
        self.round_trips += 1
        for agent, binding in wanted.items():
            self.bindings.setdefault(agent, binding)
        return {a: self.bindings[a] for a in wanted}


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

    async def bind(self, wanted: Mapping[str, Binding]) -> dict[str, Binding]:
        """One statement for all of ``wanted`` (in agent order, so two workers binding overlapping sets take
        their row locks in the same order), then one Redis round trip for the mirror and the notification."""
        if not wanted:
            return {}
        agents = sorted(wanted)
        conn = await self._connection()
        rows = await (await conn.execute(BIND, (agents, [wanted[a].tenant_id for a in agents],
                                                [wanted[a].command_id for a in agents]))).fetchall()
        bound = {agent: Binding(tenant, command) for agent, tenant, command in rows}
        late = [a for a in agents if a not in bound]
        if late:
            # Bound by another worker that committed after this statement's snapshot was taken: its INSERT
            # skipped them and its SELECT could not see them yet. A new statement does.
            bound.update(await self.bindings_of(late))
        self._cache.update(bound)
        if self._redis is not None and bound:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hset(AGENT_TENANTS_KEY, mapping={a: b.tenant_id for a, b in bound.items()})
                pipe.publish(NOTIFY_CHANNEL, orjson.dumps({"a": list(bound)}))
                await pipe.execute()
        return bound

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
