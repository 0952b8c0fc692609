"""The public state of one approval request (carried by every event on ``approval.events``)."""

from __future__ import annotations

from typing import Any

from commands.approvals import ApprovalRequest, RejectionReason, Status

PUBLIC_STATUSES = ("pending", "escalated", "approved", "rejected", "expired")


def public_status(request: ApprovalRequest) -> str:
    """pending | escalated (pending past level 0) | approved | rejected | expired (rejected by the SLA)."""
    if request.status is Status.PENDING:
        return "escalated" if request.level > 0 else "pending"
    if request.status is Status.REJECTED and request.outcome_reason == RejectionReason.EXPIRED.value:
        return "expired"
    return request.status.value


def state_of(request: ApprovalRequest) -> dict[str, Any]:
    deadline = request.deadline
    return {
        "approval_id": str(request.id), "version": request.version, "tenant_id": request.tenant_id,
        "status": public_status(request), "policy": request.policy.value, "level": request.level,
        "subject": request.subject, "description": request.description, "requested_by": request.requested_by,
        "command_id": request.command_id, "impact_score": request.impact_score, "open_to_any": request.open_to_any,
        "approvers": [{"id": k, "weight": v} for k, v in request.voting_weights.items()],
        "votes": request.votes, "delegations": request.delegations, "reason": request.outcome_reason,
        "deadline": deadline.isoformat() if deadline else None,
        "created_at": request.created_on.isoformat(), "updated_at": request.modified_on.isoformat(),
    }
