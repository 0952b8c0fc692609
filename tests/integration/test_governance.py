"""Impact scoring and deliberation on the real stack: routed, held, released or rejected by humans."""

from __future__ import annotations

import orjson

from infra.kafka_probe import end_offsets, read_between
from tests.integration.conftest import decoded, read_topic, unique, wait_until
from tests.integration.governance_support import BREACH, held, send, status, wait_status


def _decision(bootstrap: str, command_id: str, kind: str = "routed") -> dict:
    found = read_topic(bootstrap, "governance.decisions",
                       lambda m: m.key() == command_id.encode() and dict(m.headers() or [])["kind"] == kind.encode())
    assert found, f"no {kind} decision for {command_id}"
    return decoded(found[0])


def test_a_low_impact_message_is_scored_routed_auto_and_delivered(api, bootstrap):
    command_id = send(api, unique("gov"), content="please summarise the weekly report")
    assert api.get(f"/api/v1/commands/{command_id}?wait_ms=10000").json()["status"] == "delivered"
    decision = _decision(bootstrap, command_id)
    assert decision["route"] == "auto" and decision["impact_score"] < decision["threshold"] == 0.8
    assert decision["explanation"] and isinstance(decision["model_version"], int)


def test_a_critical_security_breach_is_held_until_approved_then_delivered_once(api, bootstrap):
    tenant = unique("gov")
    messages_before = end_offsets(bootstrap, "agent.messages")
    command_id, approval_id = held(api, tenant)
    pending = status(api, command_id)
    assert pending["impact_score"] >= 0.9
    decision = _decision(bootstrap, command_id)
    assert decision["route"] == "deliberation" and decision["approval_id"] == approval_id
    request = wait_until(lambda: (r := api.get(f"/api/v1/approvals/{approval_id}")).status_code == 200 and r.json())
    assert request["status"] == "pending" and request["command_id"] == command_id and request["open_to_any"]
    assert not read_topic(bootstrap, "agent.messages", lambda m: decoded(m)["command_id"] == command_id,
                          timeout_s=1.0), "a held message must not be delivered"

    r = api.post(f"/api/v1/approvals/{approval_id}/approve", json={"approver_id": "alice", "rationale": "known"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert api.get(f"/api/v1/commands/{command_id}?wait_ms=10000").json()["status"] == "delivered"
    # Delivered ⇒ its record is acknowledged, so below the end offsets now: read exactly that range.
    deliveries = [m for m in read_between(bootstrap, "agent.messages", messages_before,
                                          end_offsets(bootstrap, "agent.messages"))
                  if decoded(m)["command_id"] == command_id]
    assert len({decoded(m)["event_id"] for m in deliveries}) == 1
    assert _decision(bootstrap, command_id, "outcome")["outcome"] == "approved"


def test_a_held_message_is_rejected_with_the_reviewers_reason(api):
    command_id, approval_id = held(api, unique("gov"))
    r = api.post(f"/api/v1/approvals/{approval_id}/reject", json={"approver_id": "bob", "reason": "not allowed"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    final = api.get(f"/api/v1/commands/{command_id}?wait_ms=10000").json()
    assert final["status"] == "rejected" and final["reason"] == "rejected"


def test_the_requester_cannot_approve_its_own_held_action(api):
    sender = unique("agent")
    command_id = send(api, unique("gov"), sender=sender, priority="critical", content=BREACH)
    approval_id = wait_status(api, command_id, "pending_deliberation")["approval_id"]
    r = api.post(f"/api/v1/approvals/{approval_id}/approve", json={"approver_id": sender})
    assert r.status_code == 403 and r.json()["code"] == "not_an_approver"


def test_evaluate_scores_without_submitting(api):
    tenant = unique("gov")
    low = api.post("/api/v1/governance/evaluate", json={"tenant_id": tenant, "content": "hello"}).json()
    high = api.post("/api/v1/governance/evaluate",
                    json={"tenant_id": tenant, "content": BREACH, "priority": "critical"}).json()
    assert low["route"] == "auto" and high["route"] == "deliberation" and high["score"] >= 0.9
    assert {"score", "route", "explanation", "model_version"} <= set(high)
    assert any(e["feature"] == "critical_floor" for e in high["explanation"])


def test_impact_metrics_count_routes_and_outcomes(api):
    send(api, unique("gov"))
    metrics = wait_until(lambda: (m := api.get("/api/v1/metrics/impact").json())["routed"]["auto"] > 0
                         and m["routed"]["deliberation"] > 0 and m)
    assert sum(b["count"] for b in metrics["score_distribution"]) >= 2
    assert "roc_auc" in metrics["model_quality"] and metrics["model_version"] is not None


def test_decision_records_are_avro_with_the_explanation(bootstrap, api):
    command_id = send(api, unique("gov"), content="delete the audit records", payload={"tool": "fs.delete"})
    decision = _decision(bootstrap, command_id)
    names = [e["feature"] for e in decision["explanation"]]
    assert "semantic" in names or "permission" in names
    assert orjson.dumps(decision)
