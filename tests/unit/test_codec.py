"""Confluent wire format and the schema registry manifest."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from schemas.registry import AVRO_DIR, default_registry
from schemas.topics import TOPICS

RECORD = {"command_id": "c1", "message_id": "m1", "tenant_id": "acme", "from_agent": "a", "to_agent": "b",
          "message_type": "command", "priority": "low", "content": "hi", "payload_json": None,
          "constitutional_hash": "cdd01ef066bc6cf2", "conversation_id": None, "idempotency_key": None,
          "correlation_id": "corr", "issued_at": 1_700_000_000_000}


def test_a_record_round_trips_through_the_wire_format_with_its_schema_id():
    codec = AvroCodec()
    data = codec.encode("acgs.commands", RECORD)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == 1
    schema, decoded = codec.decode(data)
    assert schema.subject == "acgs.commands-value" and decoded == RECORD


@pytest.mark.parametrize(("data", "code"), [
    (None, "not_wire_format"),
    (b"", "not_wire_format"),
    (b"\x00\x00\x00", "not_wire_format"),
    (b"\x01\x00\x00\x00\x01abc", "not_wire_format"),
    (b"\x00\x00\x00\x03\xe7abc", "unknown_schema_id"),
    (b"\x00\x00\x00\x00\x01\xff\xff\xff\xff", "avro_decode_error"),
])
def test_defective_values_fail_with_a_precise_code(data, code):
    with pytest.raises(CodecError) as caught:
        AvroCodec().decode(data)
    assert caught.value.code == code


def test_trailing_bytes_after_a_record_are_refused():
    data = AvroCodec().encode("acgs.commands", RECORD) + b"\x00"
    with pytest.raises(CodecError) as caught:
        AvroCodec().decode(data)
    assert caught.value.code == "avro_decode_error"


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_escape_as_anything_but_a_codec_error(data):
    try:
        AvroCodec().decode(data)
    except CodecError:
        pass


def test_a_record_that_does_not_fit_its_schema_is_refused_on_encode():
    with pytest.raises(CodecError) as caught:
        AvroCodec().encode("acgs.commands", {**RECORD, "issued_at": "yesterday"})
    assert caught.value.code == "avro_encode_error"


def test_every_topic_has_a_value_subject_and_ids_are_pinned():
    registry = default_registry()
    assert {f"{t.name}-value" for t in TOPICS} <= set(registry.by_subject)
    # Ids are part of the wire contract: changing one breaks every consumer holding old records.
    pinned = {1: "dev.acgs.commands.SendAgentMessage", 2: "dev.acgs.events.AgentMessageDelivered",
              3: "dev.acgs.events.ConstitutionalCheckRecorded", 4: "dev.acgs.events.DeadLetterRecorded"}
    assert {i: registry.by_id[i].full_name for i in pinned} == pinned


def test_the_manifest_names_only_existing_files_and_unique_ids():
    manifest = json.loads((AVRO_DIR / "subjects.json").read_text())
    ids = [v["id"] for versions in manifest["subjects"].values() for v in versions]
    assert len(ids) == len(set(ids))
    for versions in manifest["subjects"].values():
        for v in versions:
            assert (AVRO_DIR / v["file"]).exists()


def test_served_schemas_keep_their_logical_types_for_outside_consumers():
    served = json.loads(default_registry().by_id[2].schema_text)
    delivered_at = next(f for f in served["fields"] if f["name"] == "delivered_at")
    assert delivered_at["type"]["logicalType"] == "timestamp-millis"
