"""The operators' dashboard reads the real sources: what it shows moves when the platform does."""

from __future__ import annotations

import orjson
from confluent_kafka import Producer

from schemas.codec import AvroCodec
from tests.integration.conftest import HASH, message, unique, wait_until


def _summary(api) -> dict:  # noqa: ANN001
    answer = api.get("/api/v1/dashboard/summary")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _records(summary: dict, topic: str) -> int:
    return {row["topic"]: row["records"] for row in summary["topics"]}[topic]


def test_the_summary_counts_commands_shows_rejections_and_readiness(api, bootstrap):
    before = _summary(api)
    assert before["ready"] == {"kafka": "ok", "postgres": "ok", "redis": "ok"}
    assert {"inbox", "command_status"} <= {row["projection"] for row in before["projections"]}

    tenant = unique("dash")
    sent = api.post("/api/v1/messages/send", json=message(tenant, unique("a"), unique("b")))
    assert api.get(f"/api/v1/commands/{sent.json()['command_id']}", params={"wait_ms": 20000}).json()["status"] \
        == "delivered"
    # A wrong hash straight onto Kafka: the gate rejects it, and the dashboard lists the rejection.
    command_id = unique("cmd")
    record = {"command_id": command_id, "message_id": unique("m"), "tenant_id": tenant, "from_agent": unique("a"),
              "to_agent": unique("b"), "message_type": "command", "priority": "normal", "content": "x",
              "payload_json": None, "constitutional_hash": "deadbeefdeadbeef", "conversation_id": None,
              "idempotency_key": None, "correlation_id": unique("corr"), "issued_at": 1}
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce("acgs.commands", key=b"k", value=AvroCodec().encode("acgs.commands", record))
    assert producer.flush(10) == 0

    def shows_it() -> dict | None:
        summary = _summary(api)
        rejected = {r["command_id"]: r for r in summary["rejections"]}
        return summary if command_id in rejected else None

    after = wait_until(shows_it, 30, "the rejection on the dashboard")
    rejection = next(r for r in after["rejections"] if r["command_id"] == command_id)
    assert rejection["code"] == "constitutional_hash_mismatch" and rejection["tenant_id"] == tenant
    assert HASH not in orjson.dumps(after).decode()
    assert _records(after, "acgs.commands") >= _records(before, "acgs.commands") + 2
    assert _records(after, "agent.messages") >= _records(before, "agent.messages") + 1
    assert all(row["per_second"] is None or row["per_second"] >= 0 for row in after["topics"])
    assert set(after["approvals"]) == {"pending", "escalated"}
    assert after["gateway"]["answers"].get("2xx", 0) >= 1
    assert after["audit"] is None or "tree_size" in after["audit"]


def test_the_stream_sends_summaries_as_server_sent_events(api):
    with api.stream("GET", "/api/v1/dashboard/stream", params={"interval_ms": 500, "max_events": 2}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        text = "".join(answer.iter_text())
    events = [block for block in text.split("\n\n") if block.startswith("event: summary")]
    assert len(events) == 2
    first = orjson.loads(events[0].split("data: ", 1)[1])
    assert {"generated_at", "topics", "gateway", "projections", "rejections", "approvals", "audit",
            "ready"} <= set(first)


def test_the_page_renders_the_stream_without_injecting_markup(api):
    answer = api.get("/dashboard")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "/api/v1/dashboard/stream" in answer.text
    assert "innerHTML" not in answer.text  # rejection reasons are user input: written as text only


def test_refusals_at_the_gateway_are_counted_by_code(api):
    def refused() -> dict:
        return _summary(api)["gateway"]["refused"]

    before = refused().get("constitutional_hash_mismatch", 0)
    bad = api.post("/api/v1/messages/send", json=message(unique("dash"), unique("a"), unique("b"),
                                                         constitutional_hash="deadbeefdeadbeef"))
    assert bad.status_code == 403
    wait_until(lambda: refused().get("constitutional_hash_mismatch", 0) == before + 1, 10,
               "the refusal counted")  # the summary is shared for a second


def test_bad_stream_parameters_are_422(api):
    answer = api.get("/api/v1/dashboard/stream", params={"interval_ms": 1})
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
