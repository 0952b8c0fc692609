"""What each channel receives: Slack incoming-webhook blocks with action buttons, a Teams adaptive card,
an email, and a PagerDuty Events API v2 event (escalations only). Pure functions of an approval's state."""

from __future__ import annotations

from typing import Any

CHANNELS = ("slack", "teams", "email", "pagerduty")
PAGED_EVENTS = {"escalated", "expired", "test"}  # PagerDuty wakes people only when an SLA lapsed
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"

_TITLES = {"requested": "Approval requested", "escalated": "Approval escalated", "expired": "Approval expired",
           "test": "Test notification"}


def _summary(event: str, state: dict[str, Any]) -> str:
    score = state.get("impact_score")
    impact = f" (impact {score:.2f})" if isinstance(score, int | float) else ""
    return f"{_TITLES.get(event, event)}: {state.get('subject', '')}{impact} [{state.get('tenant_id')}]"


def slack(event: str, state: dict[str, Any]) -> dict[str, Any]:
    approval_id = state.get("approval_id", "")
    return {
        "text": _summary(event, state),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_summary(event, state)}*\n"
                                                                   f"{state.get('description', '')[:500]}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"approval `{approval_id}` · policy "
                                                                        f"{state.get('policy')} · level "
                                                                        f"{state.get('level')}"}]},
            {"type": "actions", "block_id": f"approval:{approval_id}", "elements": [
                {"type": "button", "action_id": "approve", "style": "primary", "value": approval_id,
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": "reject", "style": "danger", "value": approval_id,
                 "text": {"type": "plain_text", "text": "Reject"}},
            ]},
        ],
    }


def teams(event: str, state: dict[str, Any]) -> dict[str, Any]:
    approval_id = state.get("approval_id", "")
    card = {
        "type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": _summary(event, state), "wrap": True},
            {"type": "TextBlock", "text": state.get("description", "")[:500], "wrap": True},
            {"type": "FactSet", "facts": [{"title": "Approval", "value": approval_id},
                                          {"title": "Policy", "value": str(state.get("policy"))},
                                          {"title": "Level", "value": str(state.get("level"))}]},
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Approve", "data": {"approval_id": approval_id, "decision": "approve"}},
            {"type": "Action.Submit", "title": "Reject", "data": {"approval_id": approval_id, "decision": "reject"}},
        ],
    }
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def email(event: str, state: dict[str, Any]) -> dict[str, Any]:
    body = (f"{_summary(event, state)}\n\n{state.get('description', '')}\n\nApproval id: {state.get('approval_id')}\n"
            f"Approve: POST /api/v1/approvals/{state.get('approval_id')}/approve\n")
    return {"subject": _summary(event, state), "body": body}


def pagerduty(event: str, state: dict[str, Any], routing_key: str) -> dict[str, Any]:
    return {
        "routing_key": routing_key, "event_action": "trigger",
        "dedup_key": f"acgs-approval-{state.get('approval_id')}-{state.get('level')}",
        "payload": {"summary": _summary(event, state)[:1024], "source": "acgs-2", "severity": "critical",
                    "component": "approvals", "group": str(state.get("tenant_id")),
                    "custom_details": {k: state.get(k) for k in ("approval_id", "policy", "level", "status",
                                                                  "impact_score", "command_id")}},
    }


def build(channel: str, event: str, state: dict[str, Any], target: dict[str, Any]) -> dict[str, Any] | None:
    """The payload for ``channel``, or None when the channel does not take this event."""
    if channel == "slack":
        return slack(event, state)
    if channel == "teams":
        return teams(event, state)
    if channel == "email":
        return email(event, state)
    if channel == "pagerduty" and event in PAGED_EVENTS:
        return pagerduty(event, state, target.get("routing_key", ""))
    return None
