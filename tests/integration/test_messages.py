"""The spine on the real stack: HTTP → Kafka → gate → projections → query API."""

from __future__ import annotations

from confluent_kafka import Producer

from schemas.codec import AvroCodec
from infra.kafka_probe import end_offsets
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


def test_a_wrong_or_missing_hash_is_refused_at_http_with_a_violation_event(api, bootstrap):
    tenant = unique("t")
    wrong = api.post("/api/v1/messages/send", json=message(tenant, unique("a"), unique("b"),
                                                           constitutional_hash="0000000000000000"))
    missing_body = message(tenant, unique("a"), unique("b"))
    del missing_body["constitutional_hash"]
    missing = api.post("/api/v1/messages/send", json=missing_body)
    for answer in (wrong, missing):
        assert answer.status_code == 403
        assert answer.json()["code"] == "constitutional_hash_mismatch"
        assert HASH not in answer.text  # the expected hash is never echoed
    ids = {wrong.json()["details"]["command_id"], missing.json()["details"]["command_id"]}
    events = read_topic(bootstrap, "constitutional.events", lambda m: decoded(m)["command_id"] in ids, want=2)
    assert {decoded(m)["outcome"] for m in events} == {"violation"}
    assert {decoded(m)["source"] for m in events} == {"gateway"}
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


def test_a_cross_tenant_send_is_refused(api):
    sender, recipient = unique("a"), unique("b")
    first = api.post("/api/v1/messages/send", json=message("tenant-one", sender, recipient))
    api.get(f"/api/v1/commands/{first.json()['command_id']}", params={"wait_ms": 15000})
    refused = api.post("/api/v1/messages/send", json=message("tenant-two", sender, unique("c")))
    assert refused.status_code == 403 and refused.json()["code"] == "tenant_mismatch"
    to_other = api.post("/api/v1/messages/send", json=message("tenant-two", unique("d"), recipient))
    assert to_other.status_code == 403 and to_other.json()["code"] == "tenant_mismatch"


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

    assert ensure_topics(bootstrap, platform.settings.topic_partitions) == []  # nothing created
    described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "acgs.dlq")])
    (future,) = described.values()
    assert future.result(timeout=10)["retention.ms"].value == "-1"
