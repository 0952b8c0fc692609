"""The constitutional gate's decisions on RegisterAgent commands, with an in-memory agent directory."""

from __future__ import annotations

import asyncio

from schemas.codec import AvroCodec
from schemas.topics import REGISTER_AGENT
from streams.directory import Binding, MemoryAgentDirectory
from streams.gate import ConstitutionalGate, RawRecord
from tests.unit.test_gate import _command

HASH = "cdd01ef066bc6cf2"
CODEC = AvroCodec()


def _registration(**overrides) -> dict:
    record = {"command_id": "reg-1", "tenant_id": " ACME ", "agent_id": "alice", "constitutional_hash": HASH,
              "idempotency_key": None, "correlation_id": "corr-1", "issued_at": 1}
    record.update(overrides)
    return record


def _process(directory: MemoryAgentDirectory, record: dict, offset: int = 3, **gate_options: object) -> list:
    record_name = REGISTER_AGENT if "agent_id" in record else None
    raw = RawRecord("acgs.commands", 0, offset, b"alice", CODEC.encode("acgs.commands", record, record_name),
                    [("correlation_id", b"corr-1")])
    return asyncio.run(ConstitutionalGate(CODEC, directory, HASH, 1024, **gate_options).process(raw))


def _message(**overrides) -> dict:
    return _command(**{"tenant_id": "acme", "from_agent": "alice", "to_agent": "bob", **overrides})


def _decoded(outs: list) -> list[tuple[str, dict]]:
    return [(o.topic, CODEC.decode(o.value)[1]) for o in outs]


def test_a_registration_binds_the_agent_and_records_an_accepted_check_and_a_registration():
    directory = MemoryAgentDirectory()
    outs = _process(directory, _registration())
    (check_topic, check), (reg_topic, registered) = _decoded(outs)
    assert (check_topic, reg_topic) == ("constitutional.events", "agent.registrations")
    assert check["outcome"] == "accepted" and check["from_agent"] == "alice" and check["tenant_id"] == "acme"
    assert registered["agent_id"] == "alice" and registered["tenant_id"] == "acme"
    assert registered["command_id"] == "reg-1" and outs[1].key == b"alice"
    assert (registered["via"], registered["first_binding"]) == ("registration", True)
    assert dict(outs[1].headers)["causation_id"] == b"reg-1"
    assert directory.tenants == {"alice": "acme"}


def test_registering_again_in_the_same_tenant_is_accepted_and_changes_nothing():
    directory = MemoryAgentDirectory()
    first = _decoded(_process(directory, _registration()))
    again = _decoded(_process(directory, _registration()))  # at-least-once: the same record twice
    assert [e["event_id"] for _, e in first] == [e["event_id"] for _, e in again]
    assert first[1][1]["first_binding"] is again[1][1]["first_binding"] is True  # reg-1 made the binding
    later = _decoded(_process(directory, _registration(command_id="reg-2")))
    assert [t for t, _ in later] == ["constitutional.events", "agent.registrations"]
    assert later[1][1]["first_binding"] is False  # accepted, but alice was already bound (by reg-1)
    assert directory.bindings == {"alice": Binding("acme", "reg-1")}


def test_an_agent_of_another_tenant_cannot_be_registered_and_keeps_its_tenant():
    directory = MemoryAgentDirectory()
    directory.bindings["alice"] = Binding("globex", "msg-0")  # bound earlier, e.g. by its first message
    (topic, event), = _decoded(_process(directory, _registration()))
    assert topic == "constitutional.events" and event["outcome"] == "violation"
    assert event["code"] == "agent_tenant_conflict" and event["rule"] == "tenant_isolation"
    assert "globex" not in event["reason"]  # the other tenant is not named to this one
    assert directory.tenants == {"alice": "globex"}


def test_a_wrong_or_missing_hash_registers_nothing():
    for presented in ("deadbeefdeadbeef", None):
        directory = MemoryAgentDirectory()
        (topic, event), = _decoded(_process(directory, _registration(constitutional_hash=presented)))
        assert topic == "constitutional.events" and event["code"] == "constitutional_hash_mismatch"
        assert HASH not in (event["reason"] or "")
        assert directory.tenants == {}


def test_invalid_fields_are_dead_lettered_with_a_violation_and_register_nothing():
    cases = {"agent_id": ("bad agent!", "invalid_agent_id"), "tenant_id": ("X", "invalid_tenant_id"),
             "correlation_id": ("nul\x00", "nul_character")}
    for field, (value, code) in cases.items():
        directory = MemoryAgentDirectory()
        outs = _decoded(_process(directory, _registration(**{field: value})))
        assert [t for t, _ in outs] == ["acgs.dlq", "constitutional.events"], field
        assert outs[0][1]["error_code"] == code and outs[1][1]["code"] == code
        assert directory.tenants == {}


def test_a_registration_with_no_usable_command_id_gets_only_a_dead_letter():
    outs = _decoded(_process(MemoryAgentDirectory(), _registration(command_id="")))
    assert [t for t, _ in outs] == ["acgs.dlq"]


def test_with_registration_required_a_message_naming_an_unregistered_agent_is_refused_and_binds_nothing():
    directory = MemoryAgentDirectory()
    _process(directory, _registration(), require_registration=True)  # alice registered, bob not
    (topic, event), = _decoded(_process(directory, _message(), require_registration=True))
    assert topic == "constitutional.events" and event["code"] == "agent_not_registered"
    assert "1 agent(s)" in event["reason"]
    assert directory.tenants == {"alice": "acme"}

    _process(directory, _registration(command_id="reg-bob", agent_id="bob"), require_registration=True)
    outs = _decoded(_process(directory, _message(command_id="cmd-2"), require_registration=True))
    assert [t for t, _ in outs] == ["constitutional.events", "agent.messages"]  # no binding by a message
    assert outs[0][1]["outcome"] == "accepted"


def test_without_registration_required_a_first_message_binds_its_agents():
    directory = MemoryAgentDirectory()
    outs = _decoded(_process(directory, _message()))
    assert [t for t, _ in outs] == ["constitutional.events", "agent.registrations", "agent.registrations",
                                    "agent.messages"]
    assert [(e["agent_id"], e["via"]) for _, e in outs[1:3]] == [("alice", "first_message"), ("bob", "first_message")]
    assert directory.tenants == {"alice": "acme", "bob": "acme"}
