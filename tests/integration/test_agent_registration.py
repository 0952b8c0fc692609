"""Registering an agent to a tenant: HTTP → RegisterAgent on acgs.commands → gate → agent.registrations →
command status ``registered``; first binding wins, whether by registration or by a first accepted message."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer

from commands.intake import IDEMPOTENCY_NAMESPACE
from infra.kafka_probe import end_offsets, read_between
from schemas.codec import AvroCodec
from schemas.topics import REGISTER_AGENT
from tests.integration.audit_support import wait_for_leaves
from tests.integration.conftest import HASH, decoded, message, read_topic, unique


def _register(api, agent: str, tenant: str, **overrides: object):  # noqa: ANN001, ANN202
    return api.post("/api/v1/agents/register",
                    json={"agent_id": agent, "tenant_id": tenant, "constitutional_hash": HASH, **overrides})


def _final(api, command_id: str) -> dict:  # noqa: ANN001
    return api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 20000}).json()


def _refused(api, answer) -> dict:  # noqa: ANN001
    """A command refused at HTTP (4xx with a code) or, if the gateway's directory had not heard of the binding
    yet, accepted and then rejected by the gate: either way the refusal's code."""
    if answer.status_code == 202:
        status = _final(api, answer.json()["command_id"])
        assert status["status"] == "rejected", status
        return status
    assert answer.status_code in (403, 409), answer.text
    return answer.json()


def test_a_registered_agent_is_bound_to_its_tenant_and_readable(api, bootstrap):
    tenant, agent = unique("reg"), unique("alice")
    answer = _register(api, agent, tenant.upper())  # tenant ids are normalised as for messages
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "accepted" and body["topic"] == "acgs.commands" and body["tenant_id"] == tenant
    status = _final(api, body["command_id"])
    assert status["status"] == "registered" and status["agent_id"] == agent and status["tenant_id"] == tenant

    binding = api.get(f"/api/v1/agents/{agent}", params={"tenant_id": tenant})
    assert binding.status_code == 200 and binding.json() == {
        "agent_id": agent, "tenant_id": tenant, "first_command_id": body["command_id"]}
    elsewhere = api.get(f"/api/v1/agents/{agent}", params={"tenant_id": unique("other")})
    assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "agent_not_found"

    events = read_topic(bootstrap, "agent.registrations", lambda m: m.key() == agent.encode())
    assert decoded(events[0])["command_id"] == body["command_id"]
    assert dict(events[0].headers())["tenant_id"] == tenant.encode()


def test_a_registration_lands_in_the_audit_log(api, platform):
    if not platform.settings.audit_enabled:
        pytest.skip("the audit log is off for this stack")
    tenant, agent = unique("reg"), unique("judy")
    command_id = _register(api, agent, tenant).json()["command_id"]
    assert _final(api, command_id)["status"] == "registered"
    registered = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"registered\x00{command_id}"))
    (leaf,) = wait_for_leaves(platform.settings.postgres_dsn, [registered])
    assert (leaf[2], leaf[6], leaf[7]) == ("agent.registrations", "AgentRegistered", tenant)


def test_a_registered_agent_cannot_be_messaged_or_registered_from_another_tenant(api):
    tenant, intruder, agent = unique("reg"), unique("intruder"), unique("alice")
    assert _final(api, _register(api, agent, tenant).json()["command_id"])["status"] == "registered"

    sent = api.post("/api/v1/messages/send", json=message(intruder, unique("mallory"), agent))
    assert _refused(api, sent)["code"] == "tenant_mismatch"
    again = _register(api, agent, intruder)
    assert _refused(api, again)["code"] == "agent_tenant_conflict"
    assert api.get(f"/api/v1/agents/{agent}", params={"tenant_id": tenant}).status_code == 200

    # Its own tenant still reaches it, and registering it there again is harmless.
    ok = api.post("/api/v1/messages/send", json=message(tenant, unique("bob"), agent))
    assert _final(api, ok.json()["command_id"])["status"] == "delivered"
    assert _final(api, _register(api, agent, tenant).json()["command_id"])["status"] == "registered"


def test_an_agent_first_seen_in_a_message_cannot_be_registered_elsewhere(api):
    tenant, agent = unique("reg"), unique("carol")
    sent = api.post("/api/v1/messages/send", json=message(tenant, agent, unique("dave")))
    assert _final(api, sent.json()["command_id"])["status"] == "delivered"
    assert _refused(api, _register(api, agent, unique("other")))["code"] == "agent_tenant_conflict"


def test_bindings_made_by_a_first_message_are_events_on_agent_registrations(api, bootstrap):
    """agent.registrations is the whole log of bindings: a message binding two new agents announces both
    (via=first_message); its command still ends delivered; a later message binds nothing new."""
    tenant, sender, recipient = unique("reg"), unique("kim"), unique("lee")
    first = api.post("/api/v1/messages/send", json=message(tenant, sender, recipient)).json()["command_id"]
    assert _final(api, first)["status"] == "delivered"
    later = api.post("/api/v1/messages/send", json=message(tenant, sender, recipient)).json()["command_id"]
    assert _final(api, later)["status"] == "delivered"
    for agent in (sender, recipient):
        (event,) = read_topic(bootstrap, "agent.registrations", lambda m, a=agent: m.key() == a.encode())
        record = decoded(event)
        assert (record["command_id"], record["tenant_id"], record["via"], record["first_binding"]) == (
            first, tenant, "first_message", True)
        assert dict(event.headers())["causation_id"] == first.encode()
        binding = api.get(f"/api/v1/agents/{agent}", params={"tenant_id": tenant}).json()
        assert binding["first_command_id"] == first
    # The gate publishes a command's outputs together, so once `later` is delivered any binding it made is in
    # the log already: there is none.
    topic = "agent.registrations"
    assert not [m for m in read_between(bootstrap, topic, {}, end_offsets(bootstrap, topic))
                if decoded(m)["command_id"] == later]


def test_a_registration_produced_straight_to_kafka_is_held_to_the_same_rules(api, bootstrap):
    """No gateway in the way: the gate refuses a wrong hash and a conflicting tenant by itself."""
    codec, tenant, agent = AvroCodec(), unique("reg"), unique("erin")
    assert _final(api, _register(api, agent, tenant).json()["command_id"])["status"] == "registered"
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    cases = {unique("cmd"): (unique("other"), HASH, "agent_tenant_conflict"),
             unique("cmd"): (tenant, "deadbeefdeadbeef", "constitutional_hash_mismatch")}
    for command_id, (tenant_id, presented, _) in cases.items():
        record = {"command_id": command_id, "tenant_id": tenant_id, "agent_id": agent,
                  "constitutional_hash": presented, "idempotency_key": None, "correlation_id": unique("corr"),
                  "issued_at": 1}
        producer.produce("acgs.commands", key=agent.encode(), value=codec.encode("acgs.commands", record,
                                                                                 REGISTER_AGENT))
    assert producer.flush(10) == 0
    for command_id, (_, _, code) in cases.items():
        status = _final(api, command_id)
        assert status["status"] == "rejected" and status["code"] == code, status
    assert api.get(f"/api/v1/agents/{agent}", params={"tenant_id": tenant}).status_code == 200


def test_the_same_idempotency_key_registers_once(api, bootstrap):
    tenant, agent, key = unique("reg"), unique("frank"), unique("idem")
    before = end_offsets(bootstrap, "acgs.commands")
    first, second = (_register(api, agent, tenant, idempotency_key=key) for _ in range(2))
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    after = end_offsets(bootstrap, "acgs.commands")
    assert sum(after.values()) - sum(before.values()) == 1


def test_a_wrong_hash_is_refused_at_http_with_a_violation_event_and_appends_nothing(api, bootstrap):
    tenant, agent = unique("reg"), unique("grace")
    before = end_offsets(bootstrap, "acgs.commands")
    answer = _register(api, agent, tenant, constitutional_hash="deadbeefdeadbeef")
    assert answer.status_code == 403 and answer.json()["code"] == "constitutional_hash_mismatch"
    assert HASH not in answer.text
    assert end_offsets(bootstrap, "acgs.commands") == before
    command_id = answer.json()["details"]["command_id"]
    events = read_topic(bootstrap, "constitutional.events", lambda m: m.key() == command_id.encode())
    assert decoded(events[0])["outcome"] == "violation" and decoded(events[0])["from_agent"] == agent
    assert api.get(f"/api/v1/agents/{agent}", params={"tenant_id": tenant}).status_code == 404


BAD = [
    ("unknown field", {"surprise": 1}, "unknown_field"),
    ("bad agent id", {"agent_id": "has space"}, "validation_error"),
    ("bad tenant id", {"tenant_id": "No Spaces!"}, "invalid_tenant_id"),
    ("NUL in agent id", {"agent_id": "a\u0000"}, None),
    ("missing hash", {"constitutional_hash": None}, "constitutional_hash_mismatch"),
]


@pytest.mark.parametrize(("name", "overrides", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_registrations_get_a_4xx_with_a_code_and_append_nothing(api, bootstrap, name, overrides, code):
    before = end_offsets(bootstrap, "acgs.commands")
    answer = _register(api, unique("hank"), unique("reg"), **overrides)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["message"] and (code is None or answer.json()["code"] == code), answer.text
    assert end_offsets(bootstrap, "acgs.commands") == before


def test_a_plain_confluent_consumer_decodes_registrations_with_our_schema_registry(api, platform, bootstrap):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    tenant, agent = unique("reg"), unique("ivan")
    command_id = _register(api, agent, tenant).json()["command_id"]
    registry = SchemaRegistryClient({"url": f"{platform.settings.gateway_url}/schema-registry"})
    deserializer = AvroDeserializer(registry)
    for topic in ("acgs.commands", "agent.registrations"):
        found = read_topic(bootstrap, topic, lambda m: m.key() == agent.encode())
        value = deserializer(found[0].value(), SerializationContext(topic, MessageField.VALUE))
        assert value["agent_id"] == agent and value["command_id"] == command_id and value["tenant_id"] == tenant
    assert (value["via"], value["first_binding"]) == ("registration", True)  # version 2 of AgentRegistered
    assert registry.get_latest_version("agent.registrations-value").schema_id == 7
    subject = f"acgs.commands-{REGISTER_AGENT}"
    assert subject in registry.get_subjects() and registry.get_latest_version(subject).schema_id == 5


def test_a_tenant_lists_its_agents_page_by_page_and_sees_no_other_tenants(api):
    tenant, other = unique("reg"), unique("reg")
    registered = sorted(unique(f"agent{i}") for i in range(2))
    for agent in registered:
        assert _final(api, _register(api, agent, tenant).json()["command_id"])["status"] == "registered"
    sender, recipient = unique("agent-s"), unique("agent-r")  # bound by a first message
    assert _final(api, api.post("/api/v1/messages/send", json=message(tenant, sender, recipient))
                  .json()["command_id"])["status"] == "delivered"
    assert _final(api, _register(api, unique("elsewhere"), other).json()["command_id"])["status"] == "registered"

    seen, after = [], ""
    for _ in range(3):
        page = api.get("/api/v1/agents", params={"tenant_id": tenant.upper(), "after": after, "limit": 2})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["tenant_id"] == tenant and len(body["agents"]) <= 2
        seen += body["agents"]
        if body["next"] is None:
            break
        after = body["next"]
    assert [a["agent_id"] for a in seen] == sorted([*registered, sender, recipient])
    assert {a["tenant_id"] for a in seen} == {tenant}
    by_id = {a["agent_id"]: a["first_command_id"] for a in seen}
    assert by_id[sender] == by_id[recipient]  # the message that bound both


@pytest.mark.parametrize(("params", "code"), [
    ({"tenant_id": "No Spaces!"}, "invalid_tenant_id"),
    ({"tenant_id": "acme", "limit": 0}, "validation_error"),
    ({"tenant_id": "acme", "limit": 1001}, "validation_error"),
    ({"tenant_id": "acme", "after": "a\u0000"}, "nul_character"),
    ({}, "missing_field"),
], ids=["bad tenant", "limit 0", "limit over 1000", "NUL cursor", "no tenant"])
def test_listing_agents_with_bad_parameters_is_a_4xx_with_a_code(api, params, code):
    answer = api.get("/api/v1/agents", params=params)
    assert 400 <= answer.status_code < 500 and answer.json()["code"] == code, answer.text


