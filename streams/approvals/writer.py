"""Applying one command (or one lapsed deadline) to one approval request, inside the writer's transaction.

Service shape: load (rebuild from stored events), act (one domain method), save (events + state + outbox).
Domain errors become results with the HTTP status the gateway answers (403, 409, 422, 404), never
exceptions that stop the partition.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
import psycopg

from commands.approvals import (
    AlreadyVoted,
    ApprovalError,
    ApprovalRequest,
    InvalidDecision,
    InvalidDelegation,
    InvalidRequest,
    NotAnApprover,
    RequestClosed,
    event_to_dict,
)
from commands.ids import derived_id
from commands.intake import IDEMPOTENCY_NAMESPACE, now_ms
from schemas.codec import AvroCodec
from schemas.topics import AGENT_MESSAGES, APPROVAL_EVENTS, GOVERNANCE_DECISIONS
from streams.approvals import store
from streams.approvals.state import state_of
from streams.governance.stage import KIND_HEADER, OUTCOME, decision_event_id
from streams.notifications.jobs import enqueue

log = logging.getLogger("acgs.approvals")

_STATUS_OF_ERROR: dict[type[ApprovalError], tuple[int, str]] = {
    NotAnApprover: (403, "not_an_approver"),
    AlreadyVoted: (409, "already_voted"),
    RequestClosed: (409, "request_closed"),
    InvalidDecision: (422, "invalid_decision"),
    InvalidDelegation: (422, "invalid_delegation"),
    InvalidRequest: (422, "invalid_request"),
}


@dataclass(frozen=True)
class Result:
    status_code: int
    code: str
    message: str
    state: dict[str, Any] | None = None


def _refusal(exc: ApprovalError) -> Result:
    for cls, (status, code) in _STATUS_OF_ERROR.items():
        if isinstance(exc, cls):
            return Result(status, code, str(exc))
    return Result(422, "approval_error", str(exc))


class ApprovalWriter:
    def __init__(self, codec: AvroCodec) -> None:
        self.codec = codec

    def handle(self, cur: psycopg.Cursor, command: dict[str, Any], partition: int) -> Result:
        """Apply one ``approval.commands`` record; replays return the stored result unchanged."""
        previous = store.result_of(cur, command["request_id"])
        if previous is not None:
            return Result(previous["status_code"], previous["code"], previous["message"], previous["state"])
        result = self._apply(cur, command, partition)
        store.save_result(cur, command["request_id"], command["approval_id"], result.status_code, result.code,
                          result.message, result.state)
        return result

    def _apply(self, cur: psycopg.Cursor, command: dict[str, Any], partition: int) -> Result:
        try:
            approval_id = uuid.UUID(command["approval_id"])
            body = orjson.loads(command["body_json"])
        except (ValueError, orjson.JSONDecodeError) as exc:
            return Result(422, "invalid_command", f"undecodable approval command: {exc}")
        request, history = store.load(cur, approval_id)
        kind = command["type"]
        try:
            if kind == "request":
                if request is not None:
                    return Result(200, "already_requested", "request exists", state_of(request))
                request = self._request(cur, approval_id, body)
            elif request is None:
                return Result(404, "approval_not_found", f"no approval request {approval_id}")
            elif kind == "vote":
                request.cast_vote(body["approver_id"], body["decision"], body.get("reason") or "")
            elif kind == "delegate":
                request.delegate(body["approver_id"], body["to"])
            else:
                return Result(422, "invalid_command", f"unknown approval command type {kind!r}")
        except ApprovalError as exc:
            return _refusal(exc)
        except (KeyError, TypeError) as exc:
            return Result(422, "invalid_command", f"missing or wrong field: {exc}")
        self.save(cur, request, history, partition)
        return Result(201 if kind == "request" else 200, "ok", "applied", state_of(request))

    @staticmethod
    def _request(cur: psycopg.Cursor, approval_id: uuid.UUID, body: dict[str, Any]) -> ApprovalRequest:
        request = ApprovalRequest.request(
            request_id=approval_id, subject=body["subject"], description=body.get("description") or "",
            tenant_id=body["tenant_id"], requested_by=body["requested_by"], approvers=body.get("approvers") or (),
            policy=body.get("policy") or "single", sla_seconds=body.get("sla_seconds"),
            escalation=body.get("escalation") or (), command_id=body.get("command_id"),
            impact_score=body.get("impact_score"), open_to_any=bool(body.get("open_to_any")))
        if body.get("held") and body.get("command_id"):
            store.hold(cur, str(approval_id), body["command_id"], body["held"])
        return request

    def fire_deadline(self, cur: psycopg.Cursor, approval_id: uuid.UUID, partition: int,
                      now: datetime | None = None) -> bool:
        """Escalate or expire one request whose deadline passed; False if nothing was due (already fired)."""
        request, history = store.load(cur, approval_id)
        if request is None or not request.on_deadline(now or datetime.now(timezone.utc)):
            return False
        self.save(cur, request, history, partition)
        return True

    def save(self, cur: psycopg.Cursor, request: ApprovalRequest, history: list, partition: int) -> None:
        """Store the new events with the state after each, queue their Kafka records and side effects."""
        new = request.collect_events()
        if not new:
            return
        bodies = [event_to_dict(e) for e in new]
        store.append_events(cur, request.id, bodies)
        events = list(history)
        approval_id = str(request.id)
        for event, body in zip(new, bodies, strict=True):
            events.append(event)
            state = state_of(ApprovalRequest.rebuild(events))
            record = {"event_id": derived_id(IDEMPOTENCY_NAMESPACE, f"approval\x00{approval_id}\x00"
                                                                    f"{body['originator_version']}"),
                      "approval_id": approval_id, "version": body["originator_version"], "type": body["type"],
                      "tenant_id": request.tenant_id, "body_json": orjson.dumps(body).decode(),
                      "state_json": orjson.dumps(state).decode(), "recorded_at": now_ms()}
            store.outbox(cur, APPROVAL_EVENTS, approval_id.encode(), self.codec.encode(APPROVAL_EVENTS, record),
                         [("tenant_id", request.tenant_id.encode()), ("causation_id", approval_id.encode())])
            self._side_effects(cur, body["type"], state)
        store.save_aggregate(cur, request, partition, state_of(request)["status"])

    def _side_effects(self, cur: psycopg.Cursor, event_type: str, state: dict[str, Any]) -> None:
        key = f"{state['approval_id']}:{state['version']}"
        if event_type == "ApprovalRequested":
            enqueue(cur, state["tenant_id"], "requested", state, key)
        elif event_type == "Escalated":
            enqueue(cur, state["tenant_id"], "escalated", state, key)
        elif event_type == "Expired":
            enqueue(cur, state["tenant_id"], "expired", state, key)
        elif event_type in ("Approved", "Rejected"):
            self._settle_held(cur, state, approved=event_type == "Approved")

    def _settle_held(self, cur: psycopg.Cursor, state: dict[str, Any], approved: bool) -> None:
        """A deliberated command: release its delivery (approved) and record the human outcome."""
        held = store.held_message(cur, state["approval_id"])
        if held is None:
            return
        now = now_ms()
        headers = [(k, v.encode()) for k, v in held["headers"]]
        delivered = {**held["delivered"], "delivered_at": now}
        if approved:
            store.outbox(cur, AGENT_MESSAGES, delivered["to_agent"].encode(),
                         self.codec.encode(AGENT_MESSAGES, delivered), headers)
        decision = held["decision"]
        reason = None if approved else (state.get("reason") or "rejected")
        outcome = {"event_id": decision_event_id(delivered["command_id"], "outcome"), "kind": "outcome",
                   "command_id": delivered["command_id"], "tenant_id": decision["tenant_id"],
                   "message_type": decision["message_type"], "impact_score": decision["impact_score"],
                   "threshold": decision["threshold"], "route": "deliberation",
                   "model_version": decision["model_version"], "explanation": decision["explanation"],
                   "decided_at": now, "approval_id": state["approval_id"],
                   "outcome": "approved" if approved else "rejected", "outcome_reason": reason,
                   "features_json": decision["features_json"]}
        store.outbox(cur, GOVERNANCE_DECISIONS, delivered["command_id"].encode(),
                     self.codec.encode(GOVERNANCE_DECISIONS, outcome), headers + [(KIND_HEADER, OUTCOME)])
