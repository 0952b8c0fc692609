"""``ACGS_REQUIRE_REGISTRATION=true`` on the real stack: the gate, restarted with it, refuses a message that
names an agent no registration has bound (``agent_not_registered``, never delivered), delivers once both are
registered, and keeps agents bound before the switch; restarted without it, first messages bind again."""

from __future__ import annotations

import pytest

from tests.integration.conftest import HASH, message, unique, wait_until


def _restart_gate(platform, require_registration: bool) -> None:  # noqa: ANN001
    platform.stop_component("gate")
    if require_registration:
        platform.extra_env["ACGS_REQUIRE_REGISTRATION"] = "true"
    else:
        platform.extra_env.pop("ACGS_REQUIRE_REGISTRATION", None)
    platform.start_component("gate")


def _final(api, command_id: str) -> dict:  # noqa: ANN001
    return api.get(f"/api/v1/commands/{command_id}", params={"wait_ms": 30000}).json()


def _send(api, tenant: str, sender: str, recipient: str) -> dict:  # noqa: ANN001
    answer = api.post("/api/v1/messages/send", json=message(tenant, sender, recipient))
    assert answer.status_code == 202, answer.text
    return _final(api, answer.json()["command_id"])


def _register(api, agent: str, tenant: str) -> None:  # noqa: ANN001
    answer = api.post("/api/v1/agents/register", json={"agent_id": agent, "tenant_id": tenant,
                                                      "constitutional_hash": HASH})
    assert answer.status_code == 202, answer.text
    assert _final(api, answer.json()["command_id"])["status"] == "registered"


def _inbox(api, agent: str, tenant: str) -> list:  # noqa: ANN001
    return api.get("/api/v1/messages/receive", params={"agent_id": agent, "tenant_id": tenant}).json()["messages"]


@pytest.fixture()
def registration_required(platform, api):  # noqa: ANN001
    tenant = unique("early")
    early = (f"a-{tenant}", f"b-{tenant}")
    assert _send(api, tenant, *early)["status"] == "delivered"  # bound by a first message, before the switch
    _restart_gate(platform, require_registration=True)
    try:
        yield tenant, early
    finally:
        _restart_gate(platform, require_registration=False)
        # The default gate serves again (later tests rely on it): two new agents bind by a first message.
        fresh = unique("after")
        assert _send(api, fresh, f"a-{fresh}", f"b-{fresh}")["status"] == "delivered"


def test_with_registration_required_only_bound_agents_can_be_messaged(api, registration_required):  # noqa: ANN001
    early_tenant, early = registration_required
    tenant = unique("reg")
    sender, recipient = f"s-{tenant}", f"r-{tenant}"
    _register(api, sender, tenant)

    refused = _send(api, tenant, sender, recipient)
    assert refused["status"] == "rejected" and refused["code"] == "agent_not_registered", refused
    unbound_sender = _send(api, tenant, f"x-{tenant}", sender)
    assert unbound_sender["status"] == "rejected" and unbound_sender["code"] == "agent_not_registered"

    _register(api, recipient, tenant)
    assert _send(api, tenant, sender, recipient)["status"] == "delivered"
    assert _send(api, early_tenant, *early)["status"] == "delivered"  # bound before the switch: still bound
    wait_until(lambda: len(_inbox(api, recipient, tenant)) == 1, 20, "the one delivered message in the inbox")
    assert _inbox(api, sender, tenant) == []  # the refused message to the sender was never delivered
