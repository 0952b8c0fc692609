"""The constitutional gate's decisions, with an in-memory agent directory."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from schemas.codec import AvroCodec
from streams.directory import Binding, MemoryAgentDirectory
from streams.gate import ConstitutionalGate, RawRecord

HASH = "cdd01ef066bc6cf2"


def _command(**overrides) -> dict:
    record = {"command_id": "cmd-1", "message_id": "msg-1", "tenant_id": " ACME ", "from_agent": "a",
              "to_agent": "b", "message_type": "command", "priority": "medium", "content": "hi",
              "payload_json": None, "constitutional_hash": HASH, "conversation_id": None, "idempotency_key": None,
              "correlation_id": "corr-1", "issued_at": 1}
    record.update(overrides)
    return record


def _raw(value: bytes | None, offset: int = 7) -> RawRecord:
    return RawRecord("acgs.commands", 1, offset, b"a", value, [("correlation_id", b"corr-1")])


def _bound(**bindings: str) -> MemoryAgentDirectory:
    """A directory where agents a and b (and any named here) are already bound to acme by an earlier command."""
    directory = MemoryAgentDirectory()
    for agent in ("a", "b", *bindings):
        directory.bindings[agent] = Binding(bindings.get(agent, "acme"), "earlier-cmd")
    return directory


def _gate(directory=None) -> ConstitutionalGate:  # noqa: ANN001
    return ConstitutionalGate(AvroCodec(), _bound() if directory is None else directory, HASH, 1024)


def _run(gate: ConstitutionalGate, raw: RawRecord):  # noqa: ANN202
    return asyncio.run(gate.process(raw))


def _decode(out) -> dict:  # noqa: ANN001
    return AvroCodec().decode(out.value)[1]


def test_an_accepted_command_yields_an_accepted_check_and_a_delivery_keyed_by_recipient():
    outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command())))
    assert [o.topic for o in outs] == ["constitutional.events", "agent.messages"]
    check, delivered = (_decode(o) for o in outs)
    assert check["outcome"] == "accepted" and check["tenant_id"] == "acme"
    assert delivered["to_agent"] == "b" and delivered["priority"] == "normal" and outs[1].key == b"b"
    assert dict(outs[1].headers)["correlation_id"] == b"corr-1"
    assert dict(outs[1].headers)["causation_id"] == b"cmd-1"


def test_processing_the_same_record_twice_yields_the_same_event_ids():
    value = AvroCodec().encode("acgs.commands", _command())
    first = [_decode(o)["event_id"] for o in _run(_gate(), _raw(value))]
    second = [_decode(o)["event_id"] for o in _run(_gate(), _raw(value))]
    assert first == second


def test_a_wrong_or_missing_hash_yields_only_a_violation():
    for presented in ("deadbeefdeadbeef", None):
        outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command(constitutional_hash=presented))))
        assert [o.topic for o in outs] == ["constitutional.events"]
        event = _decode(outs[0])
        assert event["outcome"] == "violation" and event["code"] == "constitutional_hash_mismatch"


def test_a_first_message_binds_its_new_agents_and_announces_each_binding_on_agent_registrations():
    directory = _bound()
    del directory.bindings["b"]  # a is known, b is seen for the first time
    outs = _run(_gate(directory), _raw(AvroCodec().encode("acgs.commands", _command())))
    assert [o.topic for o in outs] == ["constitutional.events", "agent.registrations", "agent.messages"]
    bound = _decode(outs[1])
    assert (bound["agent_id"], bound["tenant_id"], bound["command_id"]) == ("b", "acme", "cmd-1")
    assert (bound["via"], bound["first_binding"], outs[1].key) == ("first_message", True, b"b")
    assert dict(outs[1].headers)["causation_id"] == b"cmd-1"
    assert directory.bindings["b"] == Binding("acme", "cmd-1")


def test_a_redelivered_first_message_announces_its_bindings_again_with_the_same_ids():
    """At-least-once: a crash after binding but before publishing must not lose the AgentRegistered events."""
    directory = MemoryAgentDirectory()
    value = AvroCodec().encode("acgs.commands", _command(to_agent="a"))  # a message to itself binds one agent
    first = _run(_gate(directory), _raw(value))
    again = _run(_gate(directory), _raw(value))  # the agent is bound now, by this very command
    assert [o.topic for o in first] == [o.topic for o in again] == [
        "constitutional.events", "agent.registrations", "agent.messages"]
    assert [_decode(o)["event_id"] for o in first] == [_decode(o)["event_id"] for o in again]
    later = _run(_gate(directory), _raw(AvroCodec().encode("acgs.commands", _command(command_id="cmd-2",
                                                                                     to_agent="a"))))
    assert [o.topic for o in later] == ["constitutional.events", "agent.messages"]  # bound by cmd-1, not cmd-2


def test_a_refused_message_binds_and_announces_nothing():
    directory = _bound(c="globex")
    outs = _run(_gate(directory), _raw(AvroCodec().encode("acgs.commands", _command(from_agent="new",
                                                                                    to_agent="c"))))
    assert [(o.topic, _decode(o)["code"]) for o in outs] == [("constitutional.events", "tenant_mismatch")]
    assert "new" not in directory.bindings


def test_a_binding_made_by_a_message_that_lost_a_race_is_still_announced():
    """Another worker binds the recipient to another tenant between this gate's lookup and its own binding:
    the message is refused, yet the sender it bound stays bound, so the log says so."""

    class Racing(MemoryAgentDirectory):
        async def bind(self, wanted: Mapping[str, Binding]) -> dict[str, Binding]:
            self.bindings.setdefault("b", Binding("globex", "other-worker-cmd"))
            return await super().bind(wanted)

    directory = Racing()
    outs = _run(_gate(directory), _raw(AvroCodec().encode("acgs.commands", _command())))
    assert [o.topic for o in outs] == ["constitutional.events", "agent.registrations"]
    assert _decode(outs[0])["code"] == "tenant_mismatch"
    assert (_decode(outs[1])["agent_id"], _decode(outs[1])["command_id"]) == ("a", "cmd-1")
    assert directory.bindings["a"] == Binding("acme", "cmd-1")


def test_an_agent_stays_in_the_tenant_it_was_first_seen_in():
    gate = _gate(MemoryAgentDirectory())
    _run(gate, _raw(AvroCodec().encode("acgs.commands", _command())))
    outs = _run(gate, _raw(AvroCodec().encode("acgs.commands", _command(command_id="cmd-2", tenant_id="other",
                                                                        to_agent="c"))))
    assert [_decode(o)["code"] for o in outs] == ["tenant_mismatch"]


def test_garbage_goes_to_the_dead_letter_topic_with_the_original_bytes_and_where_it_came_from():
    outs = _run(_gate(), _raw(b"garbage"))
    assert [o.topic for o in outs] == ["acgs.dlq"]
    dead = _decode(outs[0])
    assert dead["original_value"] == b"garbage" and dead["source_offset"] == 7 and dead["error_code"] == "not_wire_format"
    headers = dict(outs[0].headers)
    assert headers["source_topic"] == b"acgs.commands" and headers["source_partition"] == b"1"


def test_a_decodable_record_with_an_invalid_field_is_dead_lettered_and_rejected():
    outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command(message_type="gossip"))))
    assert [o.topic for o in outs] == ["acgs.dlq", "constitutional.events"]
    assert _decode(outs[1])["code"] == "invalid_message_type"


def test_a_record_of_another_topic_schema_is_not_a_command():
    event = {"event_id": "e", "command_id": "c", "tenant_id": None, "from_agent": None, "to_agent": None,
             "outcome": "accepted", "rule": None, "code": None, "reason": None, "source": "stream", "checked_at": 1}
    outs = _run(_gate(), _raw(AvroCodec().encode("constitutional.events", event)))
    assert [o.topic for o in outs] == ["acgs.dlq"] and _decode(outs[0])["error_code"] == "unexpected_schema"


def test_a_nul_character_anywhere_in_a_command_is_dead_lettered_and_rejected():
    """Postgres text and jsonb cannot hold U+0000: delivered, such a record would stall the read side."""
    for field, value in (("content", "a\x00b"), ("conversation_id", "c\x00"), ("message_id", "\x00"),
                         ("payload_json", '{"k": ["x\\u0000"]}'), ("payload_json", '{"k\\u0000": 1}')):
        outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command(**{field: value}))))
        assert [o.topic for o in outs] == ["acgs.dlq", "constitutional.events"], field
        assert _decode(outs[1])["code"] == "nul_character"


def test_an_escaped_backslash_before_u0000_is_not_a_nul():
    outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command(payload_json='{"path": "C:\\\\u0000"}'))))
    assert [o.topic for o in outs] == ["constitutional.events", "agent.messages"]


def test_fields_no_index_can_hold_are_not_repeated_in_the_violation():
    for tenant, code in (("acme\x00", "nul_character"), ("t" * 5000, "invalid_tenant_id")):
        outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command(tenant_id=tenant))))
        assert [o.topic for o in outs] == ["acgs.dlq", "constitutional.events"]
        event = _decode(outs[1])
        assert event["code"] == code and event["tenant_id"] is None and event["from_agent"] == "a"
        assert dict(outs[1].headers)["tenant_id"] == b""


def test_a_command_id_that_cannot_name_a_command_gets_only_a_dead_letter():
    for command_id in ("x" * 129, "c\x00", ""):
        outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command(command_id=command_id))))
        assert [o.topic for o in outs] == ["acgs.dlq"], command_id
    outs = _run(_gate(), _raw(AvroCodec().encode("acgs.commands", _command(message_id="m" * 129))))
    assert [o.topic for o in outs] == ["acgs.dlq", "constitutional.events"]
    assert _decode(outs[1])["code"] == "invalid_id"


def test_a_dead_letter_cuts_an_original_too_large_to_repeat_whole():
    from schemas.topics import DEAD_LETTER_ORIGINAL_MAX

    huge = b"\x01" * (DEAD_LETTER_ORIGINAL_MAX + 10)
    (out,) = _run(_gate(), _raw(huge))
    dead = _decode(out)
    assert dead["original_value"] == huge[:DEAD_LETTER_ORIGINAL_MAX] and "cut from" in dead["error"]
    assert dead["source_offset"] == 7
