"""Notifications to real local receivers (HTTP and SMTP) with retries; signed inbound chat webhooks."""

from __future__ import annotations

import socket
import time
import urllib.parse

import orjson
from aiosmtpd.controller import Controller

from commands.webhook_auth import slack_signature, teams_signature
from tests.conftest import SLACK_TEST_SECRET, TEAMS_TEST_SECRET
from tests.integration.conftest import unique, wait_until
from tests.integration.governance_support import Receiver, approval, approval_status


def _configure(api, tenant: str, **config: object) -> None:  # noqa: ANN001
    r = api.put(f"/api/v1/notifications/config/{tenant}", json=config)
    assert r.status_code == 200, r.text


def _job(api, job_id: int) -> dict:  # noqa: ANN001
    return api.get(f"/api/v1/notifications/jobs/{job_id}").json()


def test_a_receiver_failing_twice_then_succeeding_gets_the_notification_once(api):
    tenant = unique("gov")
    with Receiver(failures=2) as receiver:
        _configure(api, tenant, slack={"webhook_url": receiver.url})
        jobs = api.post("/api/v1/notifications/test", json={"tenant_id": tenant}).json()["jobs"]
        job = wait_until(lambda: (j := _job(api, jobs[0]["job_id"]))["status"] == "delivered" and j, 15)
        assert job["attempts"] == 3 and len(receiver.attempts) == 3 and len(receiver.accepted) == 1
        blocks = orjson.loads(receiver.accepted[0])["blocks"]
        assert [e["action_id"] for e in blocks[-1]["elements"]] == ["approve", "reject"]


def test_final_failures_are_dead_lettered_and_visible(api):
    tenant = unique("gov")
    with Receiver(failures=100) as receiver:
        _configure(api, tenant, teams={"webhook_url": receiver.url})
        api.post("/api/v1/notifications/test", json={"tenant_id": tenant})
        dead = wait_until(lambda: api.get("/api/v1/notifications/dead-letters", params={"tenant": tenant})
                          .json()["dead_letters"], 15, "dead letter")
        assert dead[0]["channel"] == "teams" and dead[0]["attempts"] == 4 and "500" in dead[0]["error"]
        card = orjson.loads(receiver.attempts[0])["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 - aiosmtpd's hook
        self.messages.append(envelope)
        return "250 OK"


def test_an_approval_request_notifies_by_email_and_an_escalation_pages(api):
    tenant = unique("gov")
    inbox = _Inbox()
    port = _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with Receiver() as pagerduty:
            _configure(api, tenant, email={"host": "127.0.0.1", "port": port,
                                           "to": ["reviewers@example.com"]},
                       pagerduty={"routing_key": "R0UTINGKEY", "url": pagerduty.url})
            approval_id = approval(api, tenant, ["e1"], "single", sla_seconds=2, escalation=[[{"id": "e2"}]])
            wait_until(lambda: inbox.messages, 10, "approval email")
            assert approval_id in inbox.messages[0].content.decode()
            page = orjson.loads(wait_until(lambda: pagerduty.accepted, 10, "PagerDuty page")[0])
            assert page["event_action"] == "trigger" and page["routing_key"] == "R0UTINGKEY"
            assert page["dedup_key"].endswith(f"{approval_id}-1")
    finally:
        smtp.stop()


def _slack_body(approval_id: str, user: str, action: str = "approve") -> bytes:
    payload = {"type": "block_actions", "user": {"id": "U1", "username": user},
               "actions": [{"action_id": action, "value": approval_id}]}
    return urllib.parse.urlencode({"payload": orjson.dumps(payload).decode()}).encode()


def test_a_forged_slack_signature_is_refused_and_a_signed_click_votes(api):
    approval_id = approval(api, unique("gov"), ["slacker"], "single")
    body = _slack_body(approval_id, "slacker")
    ts = str(int(time.time()))
    forged = api.post("/api/v1/webhooks/slack", content=body,
                      headers={"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature("wrong", ts, body),
                               "Content-Type": "application/x-www-form-urlencoded"})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_signature"
    stale = str(int(time.time()) - 3600)
    replayed = api.post("/api/v1/webhooks/slack", content=body, headers={
        "X-Slack-Request-Timestamp": stale, "X-Slack-Signature": slack_signature(SLACK_TEST_SECRET, stale, body)})
    assert replayed.status_code == 401
    assert approval_status(api, approval_id) in (None, "pending")
    signed = api.post("/api/v1/webhooks/slack", content=body, headers={
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(SLACK_TEST_SECRET, ts, body),
        "Content-Type": "application/x-www-form-urlencoded"})
    assert signed.status_code == 200 and signed.json()["status"] == "approved"


def test_teams_outgoing_webhook_hmac_is_checked(api):
    approval_id = approval(api, unique("gov"), ["Teams User"], "single")
    body = orjson.dumps({"type": "message", "text": f"<at>ACGS</at> reject {approval_id} not now",
                         "from": {"id": "29:1", "name": "Teams User"}})
    forged = api.post("/api/v1/webhooks/teams", content=body, headers={"Authorization": "HMAC Zm9yZ2Vk"})
    assert forged.status_code == 401
    signed = api.post("/api/v1/webhooks/teams", content=body,
                      headers={"Authorization": teams_signature(TEAMS_TEST_SECRET, body)})
    assert signed.status_code == 200 and "rejected" in signed.json()["text"]
