"""``acgs agents register`` / ``show`` / ``list`` against the real gateway: what an operator pre-registering agents sees."""

from __future__ import annotations

import json

from tests.integration.audit_support import cli
from tests.integration.conftest import message, unique


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_registering_agents_from_arguments_and_a_file_reports_each_and_is_safe_to_repeat(platform, api, tmp_path):
    tenant, taken_by_other = unique("cli"), unique("taken")
    taken_tenant = unique("other")
    sent = api.post("/api/v1/messages/send", json=message(taken_tenant, taken_by_other, unique("x")))
    assert api.get(f"/api/v1/commands/{sent.json()['command_id']}", params={"wait_ms": 20000}).json()["status"] \
        == "delivered"
    first, second, third = unique("a"), unique("b"), unique("c")
    listing = tmp_path / "agents.txt"
    listing.write_text(f"# agents of {tenant}\n{second}\n\n{third}  # the third\n{first}\n")

    done = cli(platform, "agents", "register", "--tenant", tenant, first, taken_by_other, "--file", str(listing))
    assert done.returncode == 1, done.stderr  # one agent belongs to another tenant
    outcomes = {o["agent_id"]: o for o in _lines(done.stdout)}
    assert list(outcomes) == [first, taken_by_other, second, third]  # arguments first, file order, once each
    assert {outcomes[a]["status"] for a in (first, second, third)} == {"registered"}
    assert outcomes[taken_by_other]["status"] in ("refused", "rejected")
    assert outcomes[taken_by_other]["code"] == "agent_tenant_conflict"
    assert "registering to" in done.stderr and f"3 of 4 agents registered to {tenant}" in done.stderr

    again = cli(platform, "agents", "register", "-t", tenant, first, second)
    assert again.returncode == 0, again.stderr
    assert [o["status"] for o in _lines(again.stdout)] == ["registered", "registered"]

    shown = cli(platform, "agents", "show", first, "--tenant", tenant)
    assert shown.returncode == 0 and json.loads(shown.stdout)["tenant_id"] == tenant
    hidden = cli(platform, "agents", "show", first, "--tenant", taken_tenant)
    assert hidden.returncode == 1 and json.loads(hidden.stdout)["code"] == "agent_not_found"

    listed = cli(platform, "agents", "list", "--tenant", tenant)
    assert listed.returncode == 0, listed.stderr
    assert [b["agent_id"] for b in _lines(listed.stdout)] == sorted([first, second, third])
    assert f"3 agents in {tenant}" in listed.stderr


def test_no_agents_or_an_unreachable_gateway_is_a_clear_error(platform):
    empty = cli(platform, "agents", "register", "--tenant", unique("cli"))
    assert empty.returncode == 2 and "no agent ids" in empty.stderr
    down = cli(platform, "agents", "register", "--tenant", unique("cli"), "x", "--gateway", "http://127.0.0.1:9")
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert _lines(down.stdout)[0]["code"] == "gateway_unreachable"
    unlisted = cli(platform, "agents", "list", "--tenant", "x", "--gateway", "http://127.0.0.1:9")
    assert unlisted.returncode == 1 and "Traceback" not in unlisted.stderr
    assert _lines(unlisted.stdout)[0]["code"] == "gateway_unreachable"
    refused = cli(platform, "agents", "list", "--tenant", "Not A Tenant!")
    assert refused.returncode == 1 and _lines(refused.stdout)[0]["code"] == "invalid_tenant_id"
