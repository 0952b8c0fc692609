"""Errors of the write side; each carries the HTTP status and machine-readable code it maps to."""

from __future__ import annotations


class IntakeError(Exception):
    status_code = 400

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidCommand(IntakeError):
    status_code = 422


class RecordTooLarge(IntakeError):
    status_code = 413


class ConstitutionalViolation(IntakeError):
    status_code = 403


class TenantMismatch(IntakeError):
    status_code = 403


class AgentTenantConflict(IntakeError):
    """A registration of an agent that already belongs to another tenant."""

    status_code = 409


class DirectoryUnavailable(IntakeError):
    """Redis (agent directory, idempotency records) did not answer: the send is refused, the client may retry."""

    status_code = 503


class CommandLogUnavailable(IntakeError):
    """Kafka did not acknowledge the append: nothing was accepted, the client may retry."""

    status_code = 503
