"""Kafka stopped → the gateway answers 503 with Retry-After, never 202; the platform recovers when Kafka returns.

Named to run last: it stops the session's broker.
"""

from __future__ import annotations

from infra.kafka import kafka_metadata_ok
from tests.integration.audit_support import event_ids, wait_for_leaves
from tests.integration.conftest import message, unique, wait_until
from tests.integration.outage import send_until_accepted, stopped, wait_delivered


def test_with_kafka_stopped_the_gateway_answers_503_and_recovers(platform, api):
    kafka = platform.stack.kafka
    with stopped(kafka, "Kafka (KAFKA_BOOTSTRAP_SERVERS)"):
        answers = [api.post("/api/v1/messages/send", json=message(unique("t"), unique("a"), unique("b")))
                   for _ in range(3)]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"]
            assert answer.json()["code"] in {"kafka_unavailable", "kafka_backpressure"}
        ready = api.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["kafka"] != "ok"
    wait_until(lambda: kafka_metadata_ok(kafka.bootstrap), 60, "Kafka back")
    body = message(unique("t"), unique("a"), unique("b"))
    # The stream workers reconnect too: a command sent after the restart reaches the read model.
    command_id = send_until_accepted(api, body).json()["command_id"]
    wait_delivered(api, command_id, "a command sent after Kafka's restart delivered")
    # ... and the audit log: its delivery and acceptance become leaves; no worker exited over the outage.
    wait_for_leaves(platform.settings.postgres_dsn, event_ids([command_id]), 60)
    assert platform.failed_components() == {}
