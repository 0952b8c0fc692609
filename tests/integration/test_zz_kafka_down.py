"""Kafka stopped → the gateway answers 503 with Retry-After, never 202; the platform recovers when Kafka returns.

Named to run last: it stops the session's broker.
"""

from __future__ import annotations

from infra.kafka import kafka_metadata_ok
from tests.integration.audit_support import event_ids, wait_for_leaves
from tests.integration.conftest import message, unique, wait_until


def test_with_kafka_stopped_the_gateway_answers_503_and_recovers(platform, api):
    kafka = platform.stack.kafka
    kafka.stop()
    try:
        answers = [api.post("/api/v1/messages/send", json=message(unique("t"), unique("a"), unique("b")))
                   for _ in range(3)]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"]
            assert answer.json()["code"] in {"kafka_unavailable", "kafka_backpressure"}
        ready = api.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["kafka"] != "ok"
    finally:
        kafka.start()
    wait_until(lambda: kafka_metadata_ok(kafka.bootstrap), 60, "Kafka back")
    body = message(unique("t"), unique("a"), unique("b"))
    accepted = wait_until(lambda: (r := api.post("/api/v1/messages/send", json=body)).status_code == 202 and r, 60,
                          "202 again")
    # The stream workers reconnect too: a command sent after the restart reaches the read model.
    command_id = accepted.json()["command_id"]
    wait_until(lambda: api.get(f"/api/v1/commands/{command_id}?wait_ms=2000").json()["status"] == "delivered",
               90, "a command sent after Kafka's restart delivered")
    # ... and the audit log: its delivery and acceptance become leaves; no worker exited over the outage.
    wait_for_leaves(platform.settings.postgres_dsn, event_ids([command_id]), 60)
    assert platform.failed_components() == {}
