"""Poison records met by the stream workers: dead-lettered, and every worker keeps running.

Each record here is written straight to a topic, as any producer could: the gateway would refuse it.
"""

from __future__ import annotations

import uuid

from commands.intake import check_event_id
from infra.kafka_probe import group_lag
from schemas.codec import AvroCodec
from tests.integration.audit_support import logged, wait_for_leaves
from tests.integration.conftest import HASH, decoded, read_topic, unique, wait_until
from tests.integration.governance_support import approval, approval_status
from tests.integration.poison_support import dead_letter, produce, unlearnable_outcome


def _command(command_id: str, tenant: str, sender: str) -> bytes:
    return AvroCodec().encode("acgs.commands", {
        "command_id": command_id, "message_id": unique("m"), "tenant_id": tenant, "from_agent": sender,
        "to_agent": unique("b"), "message_type": "command", "priority": "normal", "content": "direct",
        "payload_json": None, "constitutional_hash": HASH, "conversation_id": None, "idempotency_key": None,
        "correlation_id": unique("corr"), "issued_at": 1})


def test_commands_whose_fields_no_index_can_hold_are_refused_and_the_audit_log_keeps_growing(platform, api):
    bootstrap, dsn = platform.settings.kafka_bootstrap, platform.settings.postgres_dsn
    nul_tenant, long_tenant, long_id = str(uuid.uuid4()), str(uuid.uuid4()), "x" * 4000
    sender = unique("a")
    unnameable = _command(long_id, "acme", sender)
    for value in (_command(nul_tenant, "acme\x00", sender), _command(long_tenant, "t" * 5000, sender), unnameable):
        produce(bootstrap, "acgs.commands", sender.encode(), value)

    for command_id, code in ((nul_tenant, "nul_character"), (long_tenant, "invalid_tenant_id")):
        status = api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 15000}).json()
        assert status["status"] == "rejected" and status["code"] == code
        # The violation is audited; the tenant it could not index is left out of the event.
        (leaf,) = wait_for_leaves(dsn, [check_event_id(command_id, "stream")])
        assert leaf[7] is None
    # An id that cannot name a command: only the dead letter, which keeps the record.
    dead = read_topic(bootstrap, "acgs.dlq", lambda m: m.key() == sender.encode()
                      and decoded(m)["original_value"] == unnameable)
    assert [dict(m.headers())["error_code"] for m in dead] == [b"invalid_id"]
    assert len(logged(platform, unique("after"), 2)) == 4  # the audit worker runs on
    assert platform.failed_components() == {}


def test_a_record_of_another_schema_on_approval_commands_is_dead_lettered_and_approvals_keep_working(platform, api):
    bootstrap = platform.settings.kafka_bootstrap
    key = unique("approval").encode()
    event = {"event_id": unique("ev"), "approval_id": str(uuid.uuid4()), "version": 1, "type": "Created",
             "tenant_id": "acme", "body_json": "{}", "state_json": "{}", "recorded_at": 1}
    produce(bootstrap, "approval.commands", key, AvroCodec().encode("approval.events", event))
    assert dead_letter(bootstrap, key, "approval-writer")["error_code"] == "unexpected_schema"
    approval_id = approval(api, unique("tenant"), ["alice", "bob"], "quorum")
    # The status read model may answer 404 for a moment after the 201.
    assert wait_until(lambda: approval_status(api, approval_id) == "pending", 20, "approval projected")
    assert platform.failed_components() == {}


def test_an_outcome_the_model_cannot_learn_from_is_dead_lettered_and_the_learner_moves_on(platform):
    bootstrap = platform.settings.kafka_bootstrap
    poison = unlearnable_outcome()
    produce(bootstrap, "governance.decisions", poison.key, poison.value, [("kind", b"outcome")])
    dead = dead_letter(bootstrap, poison.key, "impact-learner")
    assert dead["error_code"] == "invalid_outcome" and "not JSON" in dead["error"]
    # The learner's consumer moves past the record instead of retrying it forever.
    wait_until(lambda: group_lag(bootstrap, "acgs-impact-learner", "governance.decisions") == 0, 30,
               "the learner past the poison outcome")
    assert platform.failed_components() == {}
