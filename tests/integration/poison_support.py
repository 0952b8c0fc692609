"""Writing records straight to a topic, as any producer could, and finding the dead letters they leave."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from confluent_kafka import Producer

from schemas.codec import AvroCodec
from tests.integration.conftest import decoded, read_topic, unique


def produce(bootstrap: str, topic: str, key: bytes, value: bytes,
            headers: list[tuple[str, bytes]] | None = None) -> None:
    produce_all(bootstrap, topic, key, [value], headers)


def produce_all(bootstrap: str, topic: str, key: bytes, values: list[bytes],
                headers: list[tuple[str, bytes]] | None = None) -> None:
    """``values`` under one key, in this order: one producer, so they land in one partition in that order."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, key=key, value=value, headers=headers or [])
    assert producer.flush(10) == 0


class Record(NamedTuple):
    key: bytes
    value: bytes


def unlearnable_outcome() -> Record:
    """A human outcome on ``governance.decisions`` whose features are not JSON: the learner dead-letters it."""
    command_id = str(uuid.uuid4())
    outcome = {"event_id": unique("ev"), "kind": "outcome", "command_id": command_id, "tenant_id": "acme",
               "message_type": "command", "impact_score": 0.9, "threshold": 0.8, "route": "deliberation",
               "model_version": 0, "explanation": [], "decided_at": 1, "approval_id": str(uuid.uuid4()),
               "outcome": "approved", "outcome_reason": None, "features_json": "{not json"}
    return Record(command_id.encode(), AvroCodec().encode("governance.decisions", outcome))


def dead_letter(bootstrap: str, key: bytes, processor: str) -> dict:
    found = read_topic(bootstrap, "acgs.dlq", lambda m: m.key() == key and dict(m.headers())["processor"]
                       == processor.encode())
    assert found, f"no dead letter from {processor}"
    return decoded(found[0])
