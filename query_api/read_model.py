"""Queries over the projections' tables, with plain SQL (the read model is shaped for these queries)."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from projections.command_status import status_body
from projections.inbox import COLUMNS as INBOX_COLUMNS


class PostgresReadModel:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def command_status(self, command_id: str) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT * FROM command_status WHERE command_id = %s", (command_id,))
            row = await cur.fetchone()
        return status_body(row) if row else None

    async def inbox(self, tenant_id: str, agent_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        cols = ", ".join(INBOX_COLUMNS)
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {cols} FROM inbox WHERE tenant_id = %s AND agent_id = %s AND msg_offset > %s "
                f"ORDER BY msg_offset LIMIT %s", (tenant_id, agent_id, after, limit))
            return await cur.fetchall()

    async def agent_tenant(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's binding, from the gate's directory (``agent_tenants``, first binding wins)."""
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT agent_id, tenant_id, first_seen_command AS first_command_id "
                              "FROM agent_tenants WHERE agent_id = %s", (agent_id,))
            return await cur.fetchone()

    async def tenant_agents(self, tenant_id: str, after: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's agents in agent id order, after ``after`` (keyset paging on the tenant's index)."""
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT agent_id, tenant_id, first_seen_command AS first_command_id "
                              "FROM agent_tenants WHERE tenant_id = %s AND agent_id > %s "
                              "ORDER BY agent_id LIMIT %s", (tenant_id, after, limit))
            return await cur.fetchall()

    async def projection_offsets(self) -> list[tuple[str, str, int, int]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT projection, topic, partition, next_offset FROM projection_offsets")
            return await cur.fetchall()
