"""One contract for the agent directory port, run against the in-memory fake and the Postgres adapter."""

from __future__ import annotations

import asyncio

import pytest

from streams.directory import Binding, MemoryAgentDirectory, PostgresAgentDirectory
from tests.integration.conftest import unique


@pytest.fixture(params=["memory", "postgres"])
def directory(request, platform):  # noqa: ANN001
    if request.param == "memory":
        return MemoryAgentDirectory()
    return PostgresAgentDirectory(platform.settings.postgres_dsn, None)


def test_an_unknown_agent_has_no_tenant(directory):
    assert asyncio.run(directory.bindings_of([unique("nobody")])) == {}


def test_registering_makes_the_first_tenant_stick(directory):
    agent = unique("agent")

    async def scenario() -> tuple[dict, dict, dict]:
        first = await directory.bind("tenant-a", [agent], "cmd-1")
        second = await directory.bind("tenant-b", [agent], "cmd-2")
        return first, second, await directory.bindings_of([agent])

    first, second, known = asyncio.run(scenario())
    assert first == second == known == {agent: Binding("tenant-a", "cmd-1")}


def test_lookups_return_only_known_agents(directory):
    known, unknown = unique("known"), unique("unknown")

    async def scenario() -> dict:
        await directory.bind("tenant-a", [known], "cmd-1")
        return await directory.bindings_of([known, unknown])

    assert asyncio.run(scenario()) == {known: Binding("tenant-a", "cmd-1")}
