"""The gate decides a batch with one directory lookup and one write, and exactly as record by record."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import AvroCodec
from schemas.topics import REGISTER_AGENT
from streams.directory import Binding, MemoryAgentDirectory
from streams.gate import ConstitutionalGate, Output, RawRecord, decide

HASH = "cdd01ef066bc6cf2"
CODEC = AvroCodec()
# Fields that hold the wall-clock time of the decision, which two runs cannot share.
CLOCKS = ("checked_at", "delivered_at", "registered_at", "recorded_at")


def _message(i: int, tenant: str, sender: str, recipient: str, hash_: str = HASH) -> bytes:
    return CODEC.encode("acgs.commands", {
        "command_id": f"cmd-{i}", "message_id": f"msg-{i}", "tenant_id": tenant, "from_agent": sender,
        "to_agent": recipient, "message_type": "command", "priority": "normal", "content": "hi",
        "payload_json": None, "constitutional_hash": hash_, "conversation_id": None, "idempotency_key": None,
        "correlation_id": f"corr-{i}", "issued_at": 1})


def _registration(i: int, tenant: str, agent: str) -> bytes:
    return CODEC.encode("acgs.commands", {
        "command_id": f"cmd-{i}", "tenant_id": tenant, "agent_id": agent, "constitutional_hash": HASH,
        "idempotency_key": None, "correlation_id": f"corr-{i}", "issued_at": 1}, REGISTER_AGENT)


def _raws(values: list[bytes]) -> list[RawRecord]:
    return [RawRecord("acgs.commands", 0, offset, b"k", value, []) for offset, value in enumerate(values)]


def _comparable(outputs: list[Output]) -> list[tuple]:
    seen = []
    for out in outputs:
        _, event = CODEC.decode(out.value)
        seen.append((out.topic, out.key, sorted((k, v) for k, v in event.items() if k not in CLOCKS),
                     out.headers))
    return seen


AGENTS = st.sampled_from(["a", "b", "c", "d", "e"])
TENANTS = st.sampled_from(["acme", "globex"])
COMMAND = st.one_of(
    st.tuples(st.just("message"), TENANTS, AGENTS, AGENTS, st.sampled_from([HASH, HASH, HASH, "0" * 16])),
    st.tuples(st.just("registration"), TENANTS, AGENTS),
    st.tuples(st.just("garbage")))


def _values(commands: list[tuple]) -> list[bytes]:
    values = []
    for i, (kind, *args) in enumerate(commands):
        values.append(_message(i, *args) if kind == "message" else _registration(i, *args)
                      if kind == "registration" else b"\x00garbage")
    return values


@settings(max_examples=150, deadline=None)
@given(st.lists(COMMAND, max_size=12),
       st.dictionaries(AGENTS, st.tuples(TENANTS, st.just("earlier")), max_size=3), st.booleans())
def test_a_batch_decides_exactly_as_its_records_one_by_one(commands, bound_before, require_registration):
    raws = _raws(_values(commands))

    def directory() -> MemoryAgentDirectory:
        fresh = MemoryAgentDirectory()
        fresh.bindings.update({agent: Binding(*b) for agent, b in bound_before.items()})
        return fresh

    one_by_one_dir, batch_dir = directory(), directory()
    one_by_one = ConstitutionalGate(CODEC, one_by_one_dir, HASH, 1024, require_registration=require_registration)
    batched = ConstitutionalGate(CODEC, batch_dir, HASH, 1024, require_registration=require_registration)

    async def run() -> tuple[list, list]:
        each = [await one_by_one.process(raw) for raw in raws]
        return each, await batched.process_batch(raws)

    each, batch = asyncio.run(run())
    assert [_comparable(outs) for outs in batch] == [_comparable(outs) for outs in each]
    assert batch_dir.bindings == one_by_one_dir.bindings
    assert batch_dir.round_trips <= 2  # one lookup, and one write when the batch binds an agent


def test_a_burst_of_new_agents_costs_one_lookup_and_one_write():
    directory = MemoryAgentDirectory()
    gate = ConstitutionalGate(CODEC, directory, HASH, 1024)
    raws = _raws([_message(i, "acme", f"s{i}", f"r{i}") for i in range(200)])
    outputs = asyncio.run(gate.process_batch(raws))
    assert directory.round_trips == 2
    assert len(directory.bindings) == 400
    assert all([o.topic for o in outs] == ["constitutional.events", "agent.registrations", "agent.registrations",
                                           "agent.messages"] for outs in outputs)


def test_a_batch_that_lost_a_binding_race_is_decided_again_on_the_winner():
    """Another worker binds b to globex between the batch's lookup and its write: the commands naming b are
    refused as if they had come after that worker's, a's binding (made by cmd-0) is still announced, and
    a later command of the batch that only names a is accepted."""

    class Racing(MemoryAgentDirectory):
        async def bind(self, wanted: Mapping[str, Binding]) -> dict[str, Binding]:
            self.bindings.setdefault("b", Binding("globex", "other-worker-cmd"))
            return await super().bind(wanted)

    directory = Racing()
    gate = ConstitutionalGate(CODEC, directory, HASH, 1024)
    first, second, third = asyncio.run(gate.process_batch(
        _raws([_message(0, "acme", "a", "b"), _message(1, "acme", "c", "b"), _message(2, "acme", "a", "a")])))
    assert [(o.topic, CODEC.decode(o.value)[1].get("code")) for o in first] == [
        ("constitutional.events", "tenant_mismatch"), ("agent.registrations", None)]
    assert CODEC.decode(first[1].value)[1]["agent_id"] == "a"
    assert [CODEC.decode(o.value)[1].get("code") for o in second][0] == "tenant_mismatch"
    assert [o.topic for o in third] == ["constitutional.events", "agent.messages"]
    assert directory.bindings == {"a": Binding("acme", "cmd-0"), "b": Binding("globex", "other-worker-cmd"),
                                  "c": Binding("acme", "cmd-1")}


def test_a_record_the_gate_fails_on_is_dead_lettered_alone():
    class Exploding(ConstitutionalGate):
        def _accepted(self, raw, record, bindings):  # noqa: ANN001, ANN202
            if record["command_id"] == "cmd-1":
                raise ValueError("boom")
            return super()._accepted(raw, record, bindings)

    gate = Exploding(CODEC, MemoryAgentDirectory(), HASH, 1024)
    outputs = asyncio.run(gate.process_batch(_raws([_message(i, "acme", "a", "b") for i in range(3)])))
    assert [o.topic for o in outputs[1]] == ["acgs.dlq"]
    assert CODEC.decode(outputs[1][0].value)[1]["error_code"] == "processor_error"
    assert all(o.topic != "acgs.dlq" for outs in (outputs[0], outputs[2]) for o in outs)


def test_an_error_the_directory_raises_for_a_batch_leaves_only_the_failing_records_dead_lettered():
    """The directory refuses any lookup naming agent "bad" (as Postgres would refuse a value it cannot hold):
    the batch is decided again record by record, and only the record naming it becomes a dead letter."""

    class Refusing(MemoryAgentDirectory):
        async def bindings_of(self, agents: list[str]) -> dict[str, Binding]:
            if "bad" in agents:
                raise ValueError("cannot hold that agent id")
            return await super().bindings_of(agents)

    gate = ConstitutionalGate(CODEC, Refusing(), HASH, 1024)
    raws = _raws([_message(0, "acme", "a", "b"), _message(1, "acme", "bad", "b"), _message(2, "acme", "a", "c")])
    outputs = asyncio.run(decide(gate, raws))
    assert [[o.topic for o in outs] for outs in outputs] == [
        ["constitutional.events", "agent.registrations", "agent.registrations", "agent.messages"],
        ["acgs.dlq"],
        ["constitutional.events", "agent.registrations", "agent.messages"]]


def test_an_infrastructure_error_is_retried_until_the_directory_answers():
    class Flaky(MemoryAgentDirectory):
        failures = 2

        async def bind(self, wanted: Mapping[str, Binding]) -> dict[str, Binding]:
            if self.failures:
                self.failures -= 1
                raise psycopg.OperationalError("connection refused")
            return await super().bind(wanted)

    directory = Flaky()
    gate = ConstitutionalGate(CODEC, directory, HASH, 1024)
    outputs = asyncio.run(decide(gate, _raws([_message(0, "acme", "a", "b")])))
    assert directory.failures == 0 and directory.bindings["a"] == Binding("acme", "cmd-0")
    assert [o.topic for o in outputs[0]][-1] == "agent.messages"
