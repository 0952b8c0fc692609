"""The Confluent Schema Registry read API the gateway serves under ``/schema-registry``, on the real stack."""

from __future__ import annotations

import json

import pytest

from schemas.registry import AVRO_DIR

BASE = "/schema-registry"
# README "Topics and schemas": subject → schema id and record name, fixed and never reused.
CONTRACT = {"acgs.commands-value": (1, "SendAgentMessage"), "agent.messages-value": (2, "AgentMessageDelivered"),
            "constitutional.events-value": (3, "ConstitutionalCheckRecorded"),
            "acgs.dlq-value": (4, "DeadLetterRecorded")}


def _ok(answer) -> object:  # noqa: ANN001
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.schemaregistry.v1+json")
    return answer.json()


def test_subjects_versions_and_schemas_have_the_confluent_shapes(api):
    manifest = json.loads((AVRO_DIR / "subjects.json").read_text())["subjects"]
    subjects = _ok(api.get(f"{BASE}/subjects"))
    assert subjects == sorted(manifest) and set(CONTRACT) <= set(subjects)
    for subject, (schema_id, record_name) in CONTRACT.items():
        assert _ok(api.get(f"{BASE}/subjects/{subject}/versions")) == [1]
        latest = _ok(api.get(f"{BASE}/subjects/{subject}/versions/latest"))
        assert _ok(api.get(f"{BASE}/subjects/{subject}/versions/1")) == latest
        assert set(latest) == {"subject", "version", "id", "schemaType", "schema"}
        assert (latest["subject"], latest["version"], latest["id"], latest["schemaType"]) == (
            subject, 1, schema_id, "AVRO")
        parsed = json.loads(latest["schema"])  # the schema is a JSON string holding the Avro schema
        assert parsed["type"] == "record" and parsed["name"] == record_name
        by_id = _ok(api.get(f"{BASE}/schemas/ids/{schema_id}"))
        assert by_id == {"schema": latest["schema"], "schemaType": "AVRO"}


ERRORS = [
    ("unknown subject", "/subjects/no-such-subject-value/versions", 404, 40401),
    ("unknown subject, latest", "/subjects/no-such-subject-value/versions/latest", 404, 40401),
    ("unknown subject, version 1", "/subjects/no-such-subject-value/versions/1", 404, 40401),
    ("unknown version", "/subjects/agent.messages-value/versions/2", 404, 40402),
    ("huge version", "/subjects/agent.messages-value/versions/2147483647", 404, 40402),
    ("unknown id", "/schemas/ids/999999", 404, 40403),
    ("unused id", "/schemas/ids/19", 404, 40403),
    ("non-numeric id", "/schemas/ids/abc", 404, 40403),
    ("non-ASCII digit id", "/schemas/ids/\u00b2", 404, 40403),
    ("5,000-digit id", "/schemas/ids/" + "9" * 5000, 404, 40403),
    ("unknown id, its subjects", "/schemas/ids/999999/subjects", 404, 40403),
    # Confluent: a version is 1 … 2^31-1, "latest" or -1; anything else is 422 with error code 42202.
    ("non-numeric version", "/subjects/agent.messages-value/versions/abc", 422, 42202),
    ("fractional version", "/subjects/agent.messages-value/versions/1.0", 422, 42202),
    ("version zero", "/subjects/agent.messages-value/versions/0", 422, 42202),
    ("negative version", "/subjects/agent.messages-value/versions/-2", 422, 42202),
    ("version past 2^31-1", "/subjects/agent.messages-value/versions/2147483648", 422, 42202),
    ("non-ASCII digit version", "/subjects/agent.messages-value/versions/\u00b2", 422, 42202),
    ("5,000-digit version", "/subjects/agent.messages-value/versions/" + "9" * 5000, 422, 42202),
    ("invalid version of an unknown subject", "/subjects/no-such-subject-value/versions/abc", 422, 42202),
]


@pytest.mark.parametrize(("name", "path", "status", "error_code"), ERRORS, ids=[e[0] for e in ERRORS])
def test_a_missing_or_invalid_schema_is_a_4xx_with_confluents_error_code(api, name, path, status, error_code):
    answer = api.get(BASE + path)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == error_code
    assert body["message"] and isinstance(body["code"], str) and body["code"]  # ours beside Confluent's
    assert "Traceback" not in answer.text


def test_a_stock_registry_client_reads_our_errors(platform):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    registry = SchemaRegistryClient({"url": f"{platform.settings.gateway_url}{BASE}"})
    assert registry.get_schema(3).schema_type == "AVRO"
    assert registry.get_version("constitutional.events-value", 1).schema_id == 3
    for call, code in ((lambda: registry.get_latest_version("no-such-subject-value"), 40401),
                       (lambda: registry.get_version("acgs.dlq-value", 7), 40402),
                       (lambda: registry.get_schema(999999), 40403)):
        with pytest.raises(SchemaRegistryError) as raised:
            call()
        assert raised.value.error_code == code
