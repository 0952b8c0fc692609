"""Every class of bad input gets a 4xx with a machine-readable code, and nothing is appended."""

from __future__ import annotations

import pytest

from infra.kafka_probe import end_offsets
from tests.integration.conftest import message, unique

VALID = message("tenant-bad-input", "sender-x", "recipient-y")


def _without(field: str) -> dict:
    body = dict(VALID)
    del body[field]
    return body


CASES = [
    ("malformed json", b'{"from_agent": "a", ', 400, "malformed_json"),
    ("not an object", b"[1, 2, 3]", 422, "validation_error"),
    ("unknown field", {**VALID, "surprise": 1}, 422, "unknown_field"),
    ("missing field", _without("to_agent"), 422, "missing_field"),
    ("missing priority", _without("priority"), 422, "missing_field"),
    ("wrong enum", {**VALID, "message_type": "gossip"}, 422, "invalid_enum"),
    ("wrong priority", {**VALID, "priority": "urgent"}, 422, "invalid_enum"),
    ("content over 1 MiB", {**VALID, "content": "x" * (1024 * 1024 + 1)}, 422, "content_too_large"),
    ("body over the limit", {**VALID, "content": "x" * (3 * 1024 * 1024)}, 413, "body_too_large"),
    ("bad tenant id", {**VALID, "tenant_id": "No Spaces!"}, 422, "invalid_tenant_id"),
    ("short tenant id", {**VALID, "tenant_id": " ab "}, 422, "invalid_tenant_id"),
    ("bad agent id", {**VALID, "from_agent": "has space"}, 422, "validation_error"),
    # Postgres text and jsonb cannot hold U+0000: refused here, or the read side could never store it.
    ("NUL in content", {**VALID, "content": "before\u0000after"}, 422, "nul_character"),
    ("NUL in conversation id", {**VALID, "conversation_id": "c\u0000"}, 422, "nul_character"),
    ("NUL deep in payload", {**VALID, "payload": {"a": [{"b\u0000": 1}]}}, 422, "nul_character"),
]


@pytest.mark.parametrize(("name", "body", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_4xx_with_a_code_and_appends_nothing(api, bootstrap, name, body, status, code):
    before = end_offsets(bootstrap, "acgs.commands")
    if isinstance(body, bytes):
        answer = api.post("/api/v1/messages/send", content=body, headers={"content-type": "application/json"})
    else:
        answer = api.post("/api/v1/messages/send", json=body)
    assert answer.status_code == status, answer.text[:500]
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    assert "Traceback" not in answer.text
    assert end_offsets(bootstrap, "acgs.commands") == before


def test_an_unknown_command_is_404_with_a_code(api):
    answer = api.get(f"/api/v1/commands/{unique('none')}")
    assert answer.status_code == 404 and answer.json()["code"] == "command_not_found"


def test_bad_query_parameters_are_422(api):
    answer = api.get("/api/v1/messages/receive", params={"agent_id": "a", "tenant_id": "acme", "limit": 0})
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
    answer = api.get("/api/v1/commands/x", params={"wait_ms": 999999})
    assert answer.status_code == 422


NUL_URLS = ["/api/v1/commands/a%00b", "/api/v1/agents/a%00b?tenant_id=acme", "/api/v1/agents?tenant_id=acme&after=%00",
            "/api/v1/messages/receive?agent_id=a%00&tenant_id=acme", "/api/v1/approvals/x%00",
            "/api/v1/approvals?tenant=a%00", "/api/v1/audit/logs?tenant_id=a%00",
            "/api/v1/notifications/dead-letters?tenant=a%00", "/schema-registry/subjects/a%00-value/versions"]


@pytest.mark.parametrize("url", NUL_URLS)
def test_a_nul_in_any_path_or_query_parameter_is_a_422_with_a_code(api, url):
    """Postgres text cannot hold U+0000: such an id must be refused before it reaches a query (it was a 500)."""
    answer = api.get(url)
    assert answer.status_code == 422 and answer.json()["code"] == "nul_character", answer.text


def test_an_unknown_path_or_method_is_a_4xx_with_a_code(api):
    missing = api.get("/api/v1/no-such-route")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = api.delete("/api/v1/agents", params={"tenant_id": "acme"})
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["allow"]
