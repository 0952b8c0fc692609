"""HTTP routes: per-tenant notification config, test notifications, inbound Slack/Teams decision webhooks."""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from commands import rules
from commands.api import correlation_id
from commands.approval_service import ApprovalCommands, ApprovalRefused
from commands.webhook_auth import verify_slack, verify_teams
from streams.notifications.messages import CHANNELS, build

router = APIRouter(prefix="/api/v1", tags=["notifications"])
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook_url: str = Field(min_length=1, max_length=2000)


class EmailTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    from_: str = Field("acgs@localhost", alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password: str | None = None


class PagerDutyTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    routing_key: str = Field(min_length=1)
    url: str = "https://events.pagerduty.com/v2/enqueue"


class NotificationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slack: WebhookTarget | None = None
    teams: WebhookTarget | None = None
    email: EmailTarget | None = None
    pagerduty: PagerDutyTarget | None = None


class TestNotification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str
    channel: Literal["slack", "teams", "email", "pagerduty"] | None = None


def _tenant(tenant_id: str) -> str:
    tenant = rules.normalize_tenant_id(tenant_id)
    if violation := rules.check_tenant_id(tenant):
        raise HTTPException(422, detail={"code": violation.code, "message": violation.reason})
    return tenant


@router.put("/notifications/config/{tenant_id}")
async def put_config(request: Request, tenant_id: str, body: NotificationConfig) -> dict:
    """Set where a tenant's approval notifications go (replaces the previous config)."""
    tenant = _tenant(tenant_id)
    config = body.model_dump(by_alias=True, exclude_none=True)
    async with request.app.state.pool.connection() as conn:
        await conn.execute("INSERT INTO notification_configs (tenant_id, config) VALUES (%s, %s) "
                           "ON CONFLICT (tenant_id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()",
                           (tenant, Jsonb(config)))
    return {"tenant_id": tenant, "config": config}


@router.get("/notifications/config/{tenant_id}")
async def get_config(request: Request, tenant_id: str) -> dict:
    tenant = _tenant(tenant_id)
    async with request.app.state.pool.connection() as conn:
        row = await (await conn.execute("SELECT config FROM notification_configs WHERE tenant_id = %s",
                                        (tenant,))).fetchone()
    return {"tenant_id": tenant, "config": row[0] if row else {}}


@router.post("/notifications/test", status_code=202)
async def test_notification(request: Request, body: TestNotification) -> dict:
    """Queue a test notification on every configured channel (or one); delivered with retries."""
    tenant = _tenant(body.tenant_id)
    state = {"approval_id": "test", "tenant_id": tenant, "subject": "ACGS-2 test notification",
             "description": "If you can read this, notifications reach you.", "policy": "single", "level": 0,
             "status": "pending", "impact_score": None, "command_id": None}
    jobs = []
    async with request.app.state.pool.connection() as conn:
        row = await (await conn.execute("SELECT config FROM notification_configs WHERE tenant_id = %s",
                                        (tenant,))).fetchone()
        config = row[0] if row else {}
        key = f"test:{time.time_ns()}"
        for channel in CHANNELS:
            if (body.channel and channel != body.channel) or not config.get(channel):
                continue
            payload = build(channel, "test", state, config[channel])
            cur = await conn.execute(
                "INSERT INTO notification_jobs (job_key, tenant_id, channel, event, target, payload) "
                "VALUES (%s, %s, %s, 'test', %s, %s) RETURNING id",
                (f"{key}:{channel}", tenant, channel, Jsonb(config[channel]), Jsonb(payload)))
            jobs.append({"job_id": (await cur.fetchone())[0], "channel": channel})
    if not jobs:
        raise HTTPException(422, detail={"code": "no_channel_configured",
                                         "message": f"tenant {tenant} has no matching notification channel"})
    return {"tenant_id": tenant, "jobs": jobs}


async def _decide(request: Request, approval_id: str, approver: str, decision: str, reason: str) -> dict[str, Any]:
    commands: ApprovalCommands = request.app.state.approval_commands
    corr = await correlation_id(request)
    body = {"approver_id": approver, "decision": decision, "reason": reason or f"{decision} via chat"}
    try:
        state = await commands.submit("vote", approval_id, None, body, corr)
    except ApprovalRefused as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    return {"ok": True, "status": state["status"], "approval_id": approval_id}


def _forged(reason: str) -> HTTPException:
    return HTTPException(401, detail={"code": "invalid_signature", "message": reason})


@router.post("/webhooks/slack")
async def slack_webhook(request: Request) -> JSONResponse:
    """Slack interactive button (approve/reject) → a vote; refuses requests without Slack's signature."""
    settings = request.app.state.settings
    raw = await request.body()
    if settings.slack_signing_secret is None:
        raise _forged("no Slack signing secret configured")
    why = verify_slack(settings.slack_signing_secret.get_secret_value(),
                       request.headers.get("x-slack-request-timestamp"), request.headers.get("x-slack-signature"),
                       raw, time.time(), settings.webhook_max_age_s)
    if why:
        raise _forged(why)
    try:
        form = urllib.parse.parse_qs(raw.decode())
        payload = orjson.loads(form["payload"][0])
        action = payload["actions"][0]
        user = payload["user"]
        approver = user.get("username") or user["id"]
        decision = {"approve": "approve", "reject": "reject"}[action["action_id"]]
        approval_id = action["value"]
    except (KeyError, IndexError, ValueError, UnicodeDecodeError, orjson.JSONDecodeError):
        raise HTTPException(422, detail={"code": "invalid_slack_payload",
                                         "message": "want a block_actions payload with approve/reject"}) from None
    outcome = await _decide(request, approval_id, approver, decision, "")
    return JSONResponse({"response_type": "ephemeral", "replace_original": False,
                         "text": f"{decision}: {outcome.get('status', outcome.get('message'))}", **outcome})


@router.post("/webhooks/teams")
async def teams_webhook(request: Request) -> JSONResponse:
    """Teams outgoing webhook: ``approve <approval id>`` or ``reject <approval id> <reason>``."""
    settings = request.app.state.settings
    raw = await request.body()
    if settings.teams_webhook_secret is None:
        raise _forged("no Teams webhook secret configured")
    why = verify_teams(settings.teams_webhook_secret.get_secret_value(), request.headers.get("authorization"), raw)
    if why:
        raise _forged(why)
    try:
        activity = orjson.loads(raw)
        text = re.sub(r"<[^>]+>", " ", activity.get("text", ""))
        sender = activity["from"]
        approver = sender.get("name") or sender["id"]
    except (KeyError, TypeError, orjson.JSONDecodeError):
        raise HTTPException(422, detail={"code": "invalid_teams_payload", "message": "want a message activity"}) \
            from None
    found = re.search(r"\b(approve|reject)\s+(" + _UUID.pattern + r")\s*(.*)", text, re.I | re.S)
    if not found:
        return JSONResponse({"type": "message", "text": "usage: approve <approval id> | reject <approval id> <reason>"})
    outcome = await _decide(request, found.group(2), approver, found.group(1).lower(), found.group(3).strip())
    return JSONResponse({"type": "message", "text": f"{found.group(1).lower()}: "
                                                    f"{outcome.get('status', outcome.get('message'))}"})


