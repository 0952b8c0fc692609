"""Human-in-the-loop approvals: the approval request aggregate, its events and errors.

Pure domain (no Kafka, no database). A command service loads a request by id (rebuilding it
from its events), calls one command method, and appends `request.collect_events()`:

    request = ApprovalRequest.rebuild(events)                # or ApprovalRequest.request(...)
    request.cast_vote("alice", "approve", "looks fine")      # raises NotAnApprover, ...
    new_events = request.collect_events()                    # -> event_to_dict(...) on the wire
"""

from commands.approvals.domain import (
    EVENT_TYPES,
    ApprovalRequest,
    Approver,
    Decision,
    EscalationLevel,
    Policy,
    RejectionReason,
    Status,
    event_from_dict,
    event_to_dict,
    request_id_for,
)
from commands.approvals.exceptions import (
    AlreadyVoted,
    ApprovalError,
    InvalidDecision,
    InvalidDelegation,
    InvalidRequest,
    NotAnApprover,
    RequestClosed,
    UnknownEvent,
)

__all__ = [
    "EVENT_TYPES",
    "AlreadyVoted",
    "ApprovalError",
    "ApprovalRequest",
    "Approver",
    "Decision",
    "EscalationLevel",
    "InvalidDecision",
    "InvalidDelegation",
    "InvalidRequest",
    "NotAnApprover",
    "Policy",
    "RejectionReason",
    "RequestClosed",
    "Status",
    "UnknownEvent",
    "event_from_dict",
    "event_to_dict",
    "request_id_for",
]
