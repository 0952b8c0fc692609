"""The spine on the real stack: HTTP → Kafka → gate → projections → query API."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
from confluent_kafka import Producer

from schemas.codec import AvroCodec
from infra.kafka_probe import end_offsets, read_between
from tests.integration.conftest import HASH, decoded, message, read_topic, unique, wait_until


def test_a_valid_message_is_delivered_and_returned_by_receive(api):
    tenant, sender, recipient = unique("t"), unique("a"), unique("b")
    sent = api.post("/api/v1/messages/send", json=message(tenant, sender, recipient, content="ship it",
                                                            payload={"n": 1}))
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert body["status"] == "accepted" and body["topic"] == "acgs.commands" and body["offset"] >= 0

    status = api.get(f"/api/v1/commands/{body['command_id']}", params={"wait_ms": 15000}).json()
    assert status["status"] == "delivered"

    # Status and inbox are two read models: the inbox may trail the status by a batch, so long-poll it.
    page = api.get("/api/v1/messages/receive", params={"agent_id": recipient, "tenant_id": tenant,
                                                        "wait_ms": 15000}).json()
    assert [m["content"] for m in page["messages"]] == ["ship it"]
    assert page["messages"][0]["payload"] == {"n": 1}
    assert page["next"] == page["messages"][0]["cursor"]


def test_receive_pages_with_the_cursor_and_long_polls_until_a_message_arrives(api):
    tenant, sender, recipient = unique("t"), unique("a"), unique("b")
    ids = [api.post("/api/v1/messages/send", json=message(tenant, sender, recipient, content=f"m{i}")).json()
           ["command_id"] for i in range(3)]
    for command_id in ids:
        api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 15000})
    wait_until(lambda: len(api.get("/api/v1/messages/receive", params={"agent_id": recipient, "tenant_id": tenant})
                       .json()["messages"]) == 3, 15, "three messages in the inbox")
    first = api.get("/api/v1/messages/receive", params={"agent_id": recipient, "tenant_id": tenant, "limit": 2}).json()
    assert [m["content"] for m in first["messages"]] == ["m0", "m1"]
    rest = api.get("/api/v1/messages/receive",
                   params={"agent_id": recipient, "tenant_id": tenant, "after": first["next"]}).json()
    assert [m["content"] for m in rest["messages"]] == ["m2"]
    empty = api.get("/api/v1/messages/receive", params={"agent_id": recipient, "tenant_id": tenant,
                                                        "after": rest["next"], "wait_ms": 200}).json()
    assert empty["messages"] == [] and empty["next"] == rest["next"]


def test_every_record_of_an_accepted_send_carries_correlation_causation_and_tenant_headers(api, bootstrap):
    """The command carries the request's correlation id as both correlation and causation (its cause is the
    request); the gate's outputs keep the correlation id and name the command as their cause."""
    for given in (unique("corr"), None):  # a caller's X-Correlation-ID, or one the gateway makes up
        tenant, sender, recipient = unique("t"), unique("a"), unique("b")
        delivered_before = end_offsets(bootstrap, "agent.messages")
        events_before = end_offsets(bootstrap, "constitutional.events")
        sent = api.post("/api/v1/messages/send", json=message(f"  {tenant.upper()} ", sender, recipient),
                        headers={"x-correlation-id": given} if given else {})
        assert sent.status_code == 202, sent.text
        body = sent.json()
        command_id = body["command_id"]
        assert api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 15000}).json()["status"] == "delivered"

        at = {body["partition"]: body["offset"]}
        (command,) = read_between(bootstrap, "acgs.commands", at, {body["partition"]: body["offset"] + 1})
        assert decoded(command)["command_id"] == command_id
        # Delivered ⇒ the gate's outputs for it are acknowledged, so they are below the end offsets now.
        (delivery,) = [m for m in _records_since(bootstrap, "agent.messages", delivered_before)
                       if decoded(m)["command_id"] == command_id]
        (check,) = [m for m in _records_since(bootstrap, "constitutional.events", events_before)
                    if decoded(m)["command_id"] == command_id]
        assert decoded(check)["outcome"] == "accepted"

        correlation = _headers(command)["correlation_id"]
        assert correlation == given.encode() if given else uuid.UUID(correlation.decode())  # made up: a UUID
        assert correlation != command_id.encode()  # the request's id, not the command's
        assert correlation == decoded(command)["correlation_id"].encode()
        assert _headers(command)["causation_id"] == correlation
        for record in (command, delivery, check):
            headers = _headers(record)
            assert headers["tenant_id"] == tenant.encode(), record.topic()  # the normalised tenant id
            assert headers["correlation_id"] == correlation, record.topic()
        for record in (delivery, check):
            assert _headers(record)["causation_id"] == command_id.encode(), record.topic()


def test_a_long_poll_on_an_empty_inbox_returns_a_message_sent_while_it_waits(api, platform):
    tenant, sender, recipient = unique("t"), unique("a"), unique("b")
    where = {"agent_id": recipient, "tenant_id": tenant}
    assert api.get("/api/v1/messages/receive", params=where).json()["messages"] == []
    wait_s, outcome, issued = 10.0, {}, threading.Event()

    def poll() -> None:
        hooks = {"request": [lambda _request: issued.set()]}
        with httpx.Client(base_url=platform.settings.gateway_url, timeout=wait_s + 20, event_hooks=hooks) as client:
            started = time.monotonic()
            outcome["answer"] = client.get("/api/v1/messages/receive", params={**where, "wait_ms": int(wait_s * 1000)})
            outcome["returned_at"] = time.monotonic()
            outcome["elapsed"] = outcome["returned_at"] - started

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        assert issued.wait(10), "the long poll was never issued"
        sent = api.post("/api/v1/messages/send", json=message(tenant, sender, recipient, content="wake up"))
        accepted_at = time.monotonic()
        assert sent.status_code == 202, sent.text
    finally:
        poller.join(wait_s + 30)
    assert not poller.is_alive()
    answer = outcome["answer"]
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert [(m["message_id"], m["content"]) for m in page["messages"]] == [(sent.json()["message_id"], "wake up")]
    assert page["next"] == page["messages"][0]["cursor"]
    # Still waiting when the message was accepted, and answered with it well before its wait ran out.
    assert outcome["returned_at"] > accepted_at
    assert outcome["elapsed"] < wait_s * 0.8, outcome["elapsed"]


def _records_since(bootstrap: str, topic: str, before: dict[int, int]) -> list:
    """Every record appended to ``topic`` since ``before`` (end offsets), up to its end offsets now."""
    return list(read_between(bootstrap, topic, before, end_offsets(bootstrap, topic)))


def _headers(msg) -> dict[str, bytes]:  # noqa: ANN001
    """A record's headers by name; each of the three tracing headers must appear exactly once."""
    names = [name for name, _ in msg.headers() or []]
    for name in ("correlation_id", "causation_id", "tenant_id"):
        assert names.count(name) == 1, (msg.topic(), names)
    return dict(msg.headers())


def _gateway_violation(bootstrap: str, before: dict[int, int], command_id: str) -> tuple[dict, dict]:
    """The one violation event the gateway recorded for ``command_id`` since ``before``; (event, headers).
    The intake appends it (acks=all) before it answers 403, so it is there as soon as the answer is."""
    found = [m for m in _records_since(bootstrap, "constitutional.events", before)
             if decoded(m)["command_id"] == command_id]
    assert len(found) == 1, f"{len(found)} events for {command_id}"
    return decoded(found[0]), _headers(found[0])


def test_a_wrong_or_missing_hash_is_refused_at_http_with_a_violation_event(api, bootstrap):
    tenant, marker = unique("t"), unique("refused-hash")
    commands_before = end_offsets(bootstrap, "acgs.commands")
    events_before = end_offsets(bootstrap, "constitutional.events")
    wrong = api.post("/api/v1/messages/send", json=message(tenant, unique("a"), unique("b"), content=marker,
                                                           constitutional_hash="0000000000000000"))
    missing_body = message(tenant, unique("a"), unique("b"), content=marker)
    del missing_body["constitutional_hash"]
    missing = api.post("/api/v1/messages/send", json=missing_body)
    for answer in (wrong, missing):
        assert answer.status_code == 403
        assert answer.json()["code"] == "constitutional_hash_mismatch"
        assert HASH not in answer.text  # the expected hash is never echoed
    # Nothing reached the command log: the refusal happens before the append (the 403 comes after any append).
    assert end_offsets(bootstrap, "acgs.commands") == commands_before
    for answer, reason in ((wrong, "does not match"), (missing, "missing")):
        command_id = answer.json()["details"]["command_id"]
        event, headers = _gateway_violation(bootstrap, events_before, command_id)
        assert (event["outcome"], event["source"], event["rule"], event["code"]) == (
            "violation", "gateway", "constitutional_hash", "constitutional_hash_mismatch")
        assert reason in event["reason"] and HASH not in event["reason"]
        assert event["tenant_id"] == tenant
        assert headers["tenant_id"] == tenant.encode() and headers["causation_id"] == command_id.encode()
    status = api.get(f"/api/v1/commands/{wrong.json()['details']['command_id']}", params={"wait_ms": 15000}).json()
    assert status["status"] == "rejected" and status["code"] == "constitutional_hash_mismatch"


def _produce(bootstrap: str, value: bytes, key: bytes = b"k") -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce("acgs.commands", value=value, key=key)
    assert producer.flush(10) == 0


def _raw_command(tenant: str, sender: str, recipient: str, command_id: str, constitutional_hash: str | None) -> bytes:
    return AvroCodec().encode("acgs.commands", {
        "command_id": command_id, "message_id": unique("m"), "tenant_id": tenant, "from_agent": sender,
        "to_agent": recipient, "message_type": "command", "priority": "normal", "content": "direct",
        "payload_json": None, "constitutional_hash": constitutional_hash, "conversation_id": None,
        "idempotency_key": None, "correlation_id": unique("corr"), "issued_at": 1})


def test_a_wrong_hash_produced_straight_to_kafka_is_rejected_by_the_gate_and_never_delivered(api, bootstrap):
    tenant, sender, recipient, command_id = unique("t"), unique("a"), unique("b"), unique("cmd")
    _produce(bootstrap, _raw_command(tenant, sender, recipient, command_id, "ffffffffffffffff"), sender.encode())
    violation = read_topic(bootstrap, "constitutional.events", lambda m: decoded(m)["command_id"] == command_id)
    assert decoded(violation[0])["outcome"] == "violation" and decoded(violation[0])["source"] == "stream"
    status = api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 15000}).json()
    assert status["status"] == "rejected"
    delivered = read_topic(bootstrap, "agent.messages", lambda m: decoded(m)["command_id"] == command_id,
                           timeout_s=3)
    assert delivered == []
    inbox = api.get("/api/v1/messages/receive", params={"agent_id": recipient, "tenant_id": tenant}).json()
    assert inbox["messages"] == []


def test_a_cross_tenant_send_is_refused(api, bootstrap):
    sender, recipient = unique("a"), unique("b")
    first = api.post("/api/v1/messages/send", json=message("tenant-one", sender, recipient))
    api.get(f"/api/v1/commands/{first.json()['command_id']}", params={"wait_ms": 15000})
    cases = (("sender", message("tenant-two", sender, unique("c"), content=unique("refused-sender"))),
             ("recipient", message("tenant-two", unique("d"), recipient, content=unique("refused-recipient"))))
    for party, body in cases:
        commands_before = end_offsets(bootstrap, "acgs.commands")
        events_before = end_offsets(bootstrap, "constitutional.events")
        refused = api.post("/api/v1/messages/send", json=body)
        assert refused.status_code == 403 and refused.json()["code"] == "tenant_mismatch", refused.text
        assert end_offsets(bootstrap, "acgs.commands") == commands_before, f"refused {party} send was appended"
        # README: tenant_mismatch at HTTP is recorded as a violation event, as a hash mismatch is.
        command_id = refused.json()["details"]["command_id"]
        event, headers = _gateway_violation(bootstrap, events_before, command_id)
        assert (event["outcome"], event["source"], event["rule"], event["code"]) == (
            "violation", "gateway", "tenant_isolation", "tenant_mismatch")
        assert event["reason"].startswith(f"{party} belongs to another tenant")
        assert (event["tenant_id"], event["from_agent"], event["to_agent"]) == (
            "tenant-two", body["from_agent"], body["to_agent"])
        assert headers["tenant_id"] == b"tenant-two" and headers["causation_id"] == command_id.encode()
        status = api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 15000}).json()
        assert status["status"] == "rejected" and status["code"] == "tenant_mismatch"


def test_the_gate_refuses_a_cross_tenant_record_that_bypassed_the_gateway(api, bootstrap):
    sender, recipient = unique("a"), unique("b")
    first = api.post("/api/v1/messages/send", json=message("tenant-one", sender, recipient)).json()
    api.get(f"/api/v1/commands/{first['command_id']}", params={"wait_ms": 15000})
    command_id = unique("cmd")
    _produce(bootstrap, _raw_command("tenant-two", sender, unique("c"), command_id, HASH), sender.encode())
    status = api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 15000}).json()
    assert status["status"] == "rejected" and status["code"] == "tenant_mismatch"


def test_replaying_an_idempotency_key_returns_the_same_command_and_appends_nothing(api, bootstrap):
    body = message(unique("t"), unique("a"), unique("b"), idempotency_key=unique("key"))
    first = api.post("/api/v1/messages/send", json=body)
    before = end_offsets(bootstrap, "acgs.commands")
    again = api.post("/api/v1/messages/send", json=body)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert end_offsets(bootstrap, "acgs.commands") == before
    matching = read_topic(bootstrap, "acgs.commands",
                          lambda m: decoded(m)["command_id"] == first.json()["command_id"], want=2, timeout_s=4)
    assert len(matching) == 1


def test_validate_checks_the_hash_without_changing_state(api, bootstrap):
    before = end_offsets(bootstrap, "constitutional.events")
    good = api.post("/api/v1/constitutional/validate", json={"constitutional_hash": HASH}).json()
    bad = api.post("/api/v1/constitutional/validate", json={"constitutional_hash": "nope", "tenant_id": "X"}).json()
    assert good == {"valid": True, "errors": []}
    assert bad["valid"] is False and {e["code"] for e in bad["errors"]} == {"constitutional_hash_mismatch", "invalid_tenant_id"}
    assert end_offsets(bootstrap, "constitutional.events") == before


def test_garbage_on_the_command_topic_goes_to_the_dead_letter_topic_and_the_stream_keeps_flowing(api, bootstrap):
    garbage_key = unique("poison").encode()
    _produce(bootstrap, b"\xde\xad\xbe\xef not avro at all", garbage_key)
    _produce(bootstrap, b"\x00\x00\x00\x00\x01\xff\xff\xff", garbage_key)  # right header, corrupt body
    dead = read_topic(bootstrap, "acgs.dlq", lambda m: m.key() == garbage_key, want=2)
    assert len(dead) == 2
    headers = dict(dead[0].headers())
    assert headers["source_topic"] == b"acgs.commands" and headers["error_code"] == b"not_wire_format"
    assert int(headers["source_offset"]) >= 0 and int(headers["source_partition"]) >= 0
    assert decoded(dead[0])["original_value"] == b"\xde\xad\xbe\xef not avro at all"
    assert dict(dead[1].headers())["error_code"] == b"avro_decode_error"

    tenant, sender = unique("t"), garbage_key.decode()  # same key → same partition as the poison
    sent = api.post("/api/v1/messages/send", json=message(tenant, sender, unique("b"))).json()
    status = api.get(f"/api/v1/commands/{sent['command_id']}", params={"wait_ms": 15000}).json()
    assert status["status"] == "delivered"


def test_a_plain_confluent_consumer_decodes_agent_messages_with_our_schema_registry(api, platform, bootstrap):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    tenant, recipient = unique("t"), unique("b")
    sent = api.post("/api/v1/messages/send", json=message(tenant, unique("a"), recipient, content="for outsiders"))
    registry = SchemaRegistryClient({"url": f"{platform.settings.gateway_url}/schema-registry"})
    deserializer = AvroDeserializer(registry)
    found = read_topic(bootstrap, "agent.messages", lambda m: m.key() == recipient.encode())
    value = deserializer(found[0].value(), SerializationContext("agent.messages", MessageField.VALUE))
    assert value["content"] == "for outsiders" and value["tenant_id"] == tenant
    assert registry.get_latest_version("agent.messages-value").schema_id == 2


def test_the_notify_channel_names_a_command_as_final_only_once_the_read_model_shows_it(api, platform):
    """bench/openloop times command → read model by the ``c`` list of the projections' notifications."""
    import time

    import orjson
    import redis

    from commands.directory import NOTIFY_CHANNEL

    client = redis.Redis.from_url(platform.settings.redis_dsn)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(NOTIFY_CHANNEL)
    try:
        pubsub.get_message(timeout=1.0)  # the subscription is confirmed before anything is sent
        tenant = unique("t")
        sent = api.post("/api/v1/messages/send", json=message(tenant, unique("a"), unique("b")))
        assert sent.status_code == 202, sent.text
        command_id = sent.json()["command_id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            note = pubsub.get_message(timeout=0.5)
            if note is None:
                continue
            body = orjson.loads(note["data"])
            if command_id in body.get("c", ()):  # other notes (agents, approvals) carry no "c"
                break
        else:
            raise AssertionError("the command was never notified as final")
        # Named final ⇒ already committed: the status read right away is final, no waiting.
        assert api.get(f"/api/v1/commands/{command_id}").json()["status"] == "delivered"
    finally:
        pubsub.close()
        client.close()


def test_content_at_the_1_mib_limit_is_accepted_delivered_and_read_back_whole(api):
    tenant, sender, recipient = unique("t"), unique("a"), unique("b")
    content = "é" * (512 * 1024)  # 1 MiB of UTF-8, the largest content allowed
    body = message(tenant, sender, recipient, content=content, payload={"blob": "p" * 500_000})
    sent = api.post("/api/v1/messages/send", json=body)
    assert sent.status_code == 202, sent.text[:300]
    status = api.get(f"/api/v1/commands/{sent.json()['command_id']}", params={"wait_ms": 20000}).json()
    assert status["status"] == "delivered"
    (received,) = api.get("/api/v1/messages/receive", params={"agent_id": recipient, "tenant_id": tenant}).json()[
        "messages"]
    assert received["content"] == content and received["payload"] == {"blob": "p" * 500_000}


def test_every_topic_is_created_with_its_contract_configs(bootstrap):
    from confluent_kafka.admin import AdminClient, ConfigResource

    from schemas.topics import PRODUCER_MAX_BYTES, TOPICS

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=10).topics
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t.name) for t in TOPICS]
    for resource, future in admin.describe_configs(resources).items():
        configs = {name: entry.value for name, entry in future.result(timeout=10).items()}
        assert len(metadata[resource.name].partitions) >= 3, resource.name
        assert configs["cleanup.policy"] == "delete" and configs["retention.ms"] == "-1", resource.name
        assert configs["retention.bytes"] == "-1" and configs["max.message.bytes"] == str(PRODUCER_MAX_BYTES)


def test_a_topic_whose_configs_drifted_gets_its_contract_configs_again(bootstrap, platform):
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    from infra.topics import ensure_topics

    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, "acgs.dlq", incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([resource])[resource].result(timeout=10)

    def retention() -> str:
        (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "acgs.dlq")]).values()
        return future.result(timeout=10)["retention.ms"].value

    # The broker applies an altered config to what it describes a moment after acknowledging the change: the
    # drift has to be visible before ensure_topics can see it (otherwise this test would race the broker).
    wait_until(lambda: retention() == "3600000", 10, "the drifted retention visible")
    assert ensure_topics(bootstrap, platform.settings.topic_partitions) == []  # nothing created
    wait_until(lambda: retention() == "-1", 10, "the contract retention restored")
