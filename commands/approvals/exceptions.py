"""Errors raised by the approval-request domain.

How the HTTP API is expected to translate them (at its boundary, not here):

    InvalidRequest, InvalidDecision, InvalidDelegation -> 422
    NotAnApprover                                      -> 403
    AlreadyVoted, RequestClosed                        -> 409
    UnknownEvent (a wire record we cannot decode)      -> not an HTTP error: a poison record
"""

from __future__ import annotations


class ApprovalError(Exception):
    """Base class of every error raised by `commands.approvals`."""


class InvalidRequest(ApprovalError, ValueError):
    """An approval request (or a command argument) that breaks a precondition."""


class InvalidDecision(ApprovalError, ValueError):
    """A decision other than "approve" or "reject"."""

    def __init__(self, got: object) -> None:
        super().__init__(f"decision: got {got!r}, want 'approve' or 'reject'")
        self.got = got


class NotAnApprover(ApprovalError):
    """The person neither is an approver (at the current level) nor holds a delegated seat."""

    def __init__(self, request_id: object, approver_id: str) -> None:
        super().__init__(f"{approver_id!r} is not an approver of request {request_id}")
        self.request_id = request_id
        self.approver_id = approver_id


class AlreadyVoted(ApprovalError):
    """The person has already voted at the current level."""

    def __init__(self, request_id: object, approver_id: str) -> None:
        super().__init__(f"{approver_id!r} has already voted on request {request_id}")
        self.request_id = request_id
        self.approver_id = approver_id


class RequestClosed(ApprovalError):
    """The request is already approved or rejected (expired requests are rejected)."""

    def __init__(self, request_id: object, status: str) -> None:
        super().__init__(f"request {request_id} is closed: got status {status!r}, want 'pending'")
        self.request_id = request_id
        self.status = status


class InvalidDelegation(ApprovalError, ValueError):
    """A delegation that cannot be made (to oneself, to nobody, on an open request)."""


class UnknownEvent(ApprovalError, ValueError):
    """A wire dict whose `type` names no approval event, or that lacks a field."""
