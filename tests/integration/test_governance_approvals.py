"""Approval requests over HTTP on the real stack: policies, refusals, SLA timers, restarts."""

from __future__ import annotations

import time
from datetime import datetime

from tests.integration.conftest import decoded, read_topic, unique, wait_until
from tests.integration.governance_support import approval, approval_status


def vote(api, approval_id: str, approver: str, decision: str = "approve"):  # noqa: ANN001, ANN201
    body = {"approver_id": approver}
    if decision == "reject":
        body["reason"] = "too risky"
    return api.post(f"/api/v1/approvals/{approval_id}/{decision}", json=body)


def test_quorum_of_three_is_approved_by_two(api):
    approval_id = approval(api, unique("gov"), ["p1", "p2", "p3"], "quorum")
    assert vote(api, approval_id, "p1").json()["status"] == "pending"
    assert vote(api, approval_id, "p2").json()["status"] == "approved"
    assert wait_until(lambda: approval_status(api, approval_id) == "approved")


def test_unanimous_fails_on_one_rejection(api):
    approval_id = approval(api, unique("gov"), ["u1", "u2", "u3"], "unanimous")
    assert vote(api, approval_id, "u1").json()["status"] == "pending"
    after = vote(api, approval_id, "u2", "reject").json()
    assert after["status"] == "rejected" and after["reason"] == "vetoed"


def test_refused_votes_are_answered_synchronously(api):
    approval_id = approval(api, unique("gov"), ["r1", "r2"], "quorum")
    outsider = vote(api, approval_id, "mallory")
    assert outsider.status_code == 403 and outsider.json()["code"] == "not_an_approver"
    assert vote(api, approval_id, "r1").status_code == 200
    again = vote(api, approval_id, "r1")
    assert again.status_code == 409 and again.json()["code"] == "already_voted"
    assert vote(api, approval_id, "r2").json()["status"] == "approved"
    closed = vote(api, approval_id, "r2", "reject")
    assert closed.status_code == 409
    assert api.post(f"/api/v1/approvals/{approval_id}/reject", json={"approver_id": "r1"}).status_code == 422


def test_delegation_is_recorded_and_the_delegate_decides(api):
    approval_id = approval(api, unique("gov"), ["d1"], "single")
    r = api.post(f"/api/v1/approvals/{approval_id}/delegate", json={"approver_id": "d1", "to": "d2"})
    assert r.status_code == 200 and r.json()["delegations"] == {"d1": "d2"}
    assert vote(api, approval_id, "d1").status_code == 403
    assert vote(api, approval_id, "d2").json()["status"] == "approved"


def test_unknown_approval_is_404_and_lists_filter(api):
    assert vote(api, "00000000-0000-4000-8000-000000000000", "x").status_code == 404
    tenant = unique("gov")
    first = approval(api, tenant, ["f1"], "single")
    approval(api, tenant, ["f2"], "single")
    page = wait_until(lambda: len((p := api.get("/api/v1/approvals", params={"tenant": tenant, "limit": 1}).json())
                                  ["approvals"]) == 1 and p["next_offset"] == 1 and p)
    assert page["approvals"][0]["tenant_id"] == tenant
    mine = api.get("/api/v1/approvals", params={"approver": "f1", "tenant": tenant}).json()["approvals"]
    assert [a["approval_id"] for a in mine] == [first]


def test_sla_escalates_then_expires_with_a_two_second_sla(api, bootstrap):
    approval_id = approval(api, unique("gov"), ["first"], "single", sla_seconds=2, escalation=[[{"id": "boss"}]])
    assert wait_until(lambda: approval_status(api, approval_id) == "escalated", 10, "escalation")
    state = api.get(f"/api/v1/approvals/{approval_id}").json()
    assert state["level"] == 1 and [a["id"] for a in state["approvers"]] == ["boss"]
    assert vote(api, approval_id, "first").status_code == 403  # the chain moved on
    assert wait_until(lambda: approval_status(api, approval_id) == "expired", 10, "expiry")
    assert api.get(f"/api/v1/approvals/{approval_id}").json()["reason"] == "expired"
    events = read_topic(bootstrap, "approval.events", lambda m: m.key() == approval_id.encode(), want=5)
    assert [decoded(m)["type"] for m in events] == ["ApprovalRequested", "Escalated", "Expired", "Rejected"][:len(events)]


def test_a_timer_pending_while_the_writer_is_killed_fires_exactly_once_after_restart(platform, api, bootstrap):
    approval_id = approval(api, unique("gov"), ["k1"], "single", sla_seconds=2)
    deadline = datetime.fromisoformat(wait_until(
        lambda: (r := api.get(f"/api/v1/approvals/{approval_id}")).status_code == 200 and r.json())["deadline"])
    proc = platform.procs.pop("approvals")
    proc.kill()
    proc.wait(10)
    wait_until(lambda: time.time() > deadline.timestamp() + 0.5, 10, "deadline passed while the writer is down")
    assert approval_status(api, approval_id) == "pending"
    platform.start_component("approvals")
    assert wait_until(lambda: approval_status(api, approval_id) == "expired", 30, "expiry after restart")
    events = read_topic(bootstrap, "approval.events", lambda m: m.key() == approval_id.encode(), want=10,
                        timeout_s=3.0)
    types = [decoded(m)["type"] for m in events]
    assert types.count("Expired") == 1 and types.count("Rejected") == 1, types
