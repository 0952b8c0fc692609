"""Helpers for the audit log tests on the real stack: sending events, waiting for leaves/anchors, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from commands.intake import IDEMPOTENCY_NAMESPACE, check_event_id, now_ms
from schemas.codec import AvroCodec
from streams.audit.checkpoint import parse_verifier_key
from tests.integration.conftest import message, unique, wait_until


def send(api: httpx.Client, tenant: str, count: int) -> list[str]:
    """Send ``count`` valid messages; return their command ids (each yields two events)."""
    ids = []
    for i in range(count):
        answer = api.post("/api/v1/messages/send", json=message(tenant, f"s{i % 3}-{tenant}", f"r{i % 4}-{tenant}",
                                                                content=f"m{i}"))
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["command_id"])
    return ids


def publish_events(bootstrap: str, tenant: str, count: int, pause_s: float = 0.0) -> list[str]:
    """Append ``count`` pairs of valid events (acceptance + delivery) straight to the audited topics, as the
    gate would; return their event ids. Independent of the gate, so these tests test the audit log only."""
    codec = AvroCodec()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 1})
    ids = []
    for i in range(count):
        command_id, sender, recipient = str(uuid.uuid4()), f"s{i % 3}-{tenant}", f"r{i % 4}-{tenant}"
        at = now_ms()
        check = {"event_id": check_event_id(command_id, "stream"), "command_id": command_id, "tenant_id": tenant,
                 "from_agent": sender, "to_agent": recipient, "outcome": "accepted", "rule": None, "code": None,
                 "reason": None, "source": "stream", "checked_at": at}
        delivered = {"event_id": str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"delivered\x00{command_id}")),
                     "command_id": command_id, "message_id": str(uuid.uuid4()), "tenant_id": tenant,
                     "from_agent": sender, "to_agent": recipient, "message_type": "command", "priority": "normal",
                     "content": f"event {i}", "payload_json": None, "conversation_id": None,
                     "constitutional_hash": "cdd01ef066bc6cf2", "issued_at": at, "delivered_at": at}
        producer.produce("constitutional.events", key=command_id.encode(),
                         value=codec.encode("constitutional.events", check))
        producer.produce("agent.messages", key=recipient.encode(), value=codec.encode("agent.messages", delivered))
        ids += [check["event_id"], delivered["event_id"]]
        if pause_s:
            producer.poll(0)
            time.sleep(pause_s)  # pacing a load generator, not waiting for a result
    assert producer.flush(30) == 0
    return ids


def event_ids(command_ids: list[str]) -> list[str]:
    """The gate's deterministic event ids: a delivery and an acceptance per command."""
    out = []
    for command_id in command_ids:
        out.append(str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"delivered\x00{command_id}")))
        out.append(check_event_id(command_id, "stream"))
    return out


def leaves_of(dsn: str, ids: list[str]) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT leaf_index, leaf_hash, source_topic, source_partition, source_offset, event_id, event_type, "
            "tenant_id, recorded_at FROM audit_leaves WHERE event_id = ANY(%s) ORDER BY leaf_index",
            (ids,)).fetchall()


def wait_for_leaves(dsn: str, ids: list[str], timeout_s: float = 30.0) -> list[tuple]:
    def all_there() -> list[tuple] | None:
        rows = leaves_of(dsn, ids)
        return rows if len(rows) >= len(ids) else None

    return wait_until(all_there, timeout_s, f"{len(ids)} leaves")


def logged(platform, tenant: str, count: int) -> list[tuple]:  # noqa: ANN001
    """Publish ``count`` event pairs and wait until all are leaves; return the leaf rows."""
    return wait_for_leaves(platform.settings.postgres_dsn,
                           publish_events(platform.settings.kafka_bootstrap, tenant, count))


def log_size(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT size FROM audit_log_state").fetchone()[0]


def seal(api: httpx.Client) -> dict:
    answer = api.post("/api/v1/audit/checkpoints")
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def anchored_size(api: httpx.Client) -> int:
    anchors = api.get("/api/v1/audit/anchors").json()["anchors"]
    return max((a["tree_size"] for a in anchors), default=0)


def wait_anchored(api: httpx.Client, tree_size: int, timeout_s: float = 40.0) -> dict:
    def found() -> dict | None:
        anchors = api.get("/api/v1/audit/anchors", params={"limit": 1000}).json()["anchors"]
        return next((a for a in anchors if a["tree_size"] >= tree_size), None)

    return wait_until(found, timeout_s, f"an anchor of size >= {tree_size}")


def verifier(api: httpx.Client) -> tuple[str, str, object]:
    """(verifier key, key name, public key) as the gateway publishes them."""
    vkey = api.get("/api/v1/audit/checkpoints/latest").json()["verifier_key"]
    name, public = parse_verifier_key(vkey)
    return vkey, name, public


def cli(platform, *args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {**os.environ, **platform.settings.child_env(), **platform.extra_env, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "acgs.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout_s)


def copy_topic(bootstrap: str, records: list[tuple[bytes | None, bytes]]) -> str:
    """A fresh one-partition topic holding ``records`` (key, value) in order; returns its name."""
    name = unique("tamper")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for key, value in records:
        producer.produce(name, key=key, value=value)
    assert producer.flush(30) == 0
    return name
