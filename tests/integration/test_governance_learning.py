"""The impact model learns from humans and keeps what it learned across a restart of its worker."""

from __future__ import annotations

from tests.integration.conftest import decoded, read_topic, unique, wait_until
from tests.integration.governance_support import held, send

ACTION = "transfer the vendor funds to the offshore account"


def evaluate(api, tenant: str) -> dict:  # noqa: ANN001
    return api.post("/api/v1/governance/evaluate", json={"tenant_id": tenant, "content": ACTION}).json()


def test_after_human_rejections_that_kind_of_action_scores_higher(api):
    tenant = unique("gov")
    before = evaluate(api, tenant)
    for _ in range(6):
        _, approval_id = held(api, tenant, ACTION)
        r = api.post(f"/api/v1/approvals/{approval_id}/reject", json={"approver_id": "risk", "reason": "no"})
        assert r.status_code == 200
    after = wait_until(lambda: (e := evaluate(api, tenant))["model_version"] >= before["model_version"] + 6 and e,
                       30, "six decisions learned")
    assert after["score"] > before["score"] + 0.02, (before["score"], after["score"])
    benign = api.post("/api/v1/governance/evaluate", json={"tenant_id": unique("gov"), "content": "hello"}).json()
    assert benign["score"] < after["score"]


def test_the_model_checkpoint_survives_a_worker_restart_with_the_same_version(platform, api, bootstrap):
    version = evaluate(api, unique("gov"))["model_version"]
    platform.stop_component("gate")
    platform.start_component("gate")
    command_id = send(api, unique("gov"))
    assert api.get(f"/api/v1/commands/{command_id}?wait_ms=30000").json()["status"] == "delivered"
    found = read_topic(bootstrap, "governance.decisions", lambda m: m.key() == command_id.encode())
    assert decoded(found[0])["model_version"] == version
