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


def _fresh(directory):  # noqa: ANN001, ANN202 - a second worker's view of the same directory
    if isinstance(directory, MemoryAgentDirectory):
        return directory
    return PostgresAgentDirectory(directory._dsn, None)


def test_an_unknown_agent_has_no_tenant(directory):
    assert asyncio.run(directory.bindings_of([unique("nobody")])) == {}


def test_registering_makes_the_first_tenant_stick(directory):
    agent = unique("agent")

    async def scenario() -> tuple[dict, dict, dict]:
        first = await directory.bind({agent: Binding("tenant-a", "cmd-1")})
        second = await directory.bind({agent: Binding("tenant-b", "cmd-2")})
        return first, second, await directory.bindings_of([agent])

    first, second, known = asyncio.run(scenario())
    assert first == second == known == {agent: Binding("tenant-a", "cmd-1")}


def test_lookups_return_only_known_agents(directory):
    known, unknown = unique("known"), unique("unknown")

    async def scenario() -> dict:
        await directory.bind({known: Binding("tenant-a", "cmd-1")})
        return await directory.bindings_of([known, unknown])

    assert asyncio.run(scenario()) == {known: Binding("tenant-a", "cmd-1")}


def test_one_bind_answers_for_new_and_already_bound_agents(directory):
    old, new = unique("old"), unique("new")

    async def scenario() -> tuple[dict, dict]:
        await directory.bind({old: Binding("tenant-a", "cmd-1")})
        bound = await directory.bind({old: Binding("tenant-b", "cmd-2"), new: Binding("tenant-b", "cmd-2")})
        return bound, await _fresh(directory).bindings_of([old, new])

    bound, seen_elsewhere = asyncio.run(scenario())
    assert bound == seen_elsewhere == {old: Binding("tenant-a", "cmd-1"), new: Binding("tenant-b", "cmd-2")}


def test_workers_binding_overlapping_agents_at_once_agree_on_one_binding_each(directory):
    """Two workers, each binding 50 agents (half of them shared, listed in opposite orders), at the same
    time: every agent gets exactly one binding, and both workers are told the same one."""
    shared = [unique("shared") for _ in range(25)]
    mine, theirs = [unique("mine") for _ in range(25)], [unique("theirs") for _ in range(25)]
    first, second = directory, _fresh(directory)

    async def scenario() -> tuple[dict, dict]:
        return tuple(await asyncio.gather(
            first.bind({a: Binding("tenant-a", "cmd-a") for a in shared + mine}),
            second.bind({a: Binding("tenant-b", "cmd-b") for a in reversed(shared + theirs)})))

    a, b = asyncio.run(scenario())
    assert set(a) == set(shared + mine) and set(b) == set(shared + theirs)
    assert {agent: a[agent] for agent in shared} == {agent: b[agent] for agent in shared}
    assert {a[agent].tenant_id for agent in shared} <= {"tenant-a", "tenant-b"}
    assert all(a[agent] == Binding("tenant-a", "cmd-a") for agent in mine)
    assert all(b[agent] == Binding("tenant-b", "cmd-b") for agent in theirs)
