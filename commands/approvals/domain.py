"""The approval request: a human-in-the-loop decision, as an event-sourced aggregate.

Built on `eventsourcing.domain.Aggregate` with explicit event classes: each command method
checks its preconditions, then triggers an event; each event's `apply` hands itself to one
`_on_*` method of the aggregate, so state is always the fold of the events in order, live or
rebuilt (`ApprovalRequest.rebuild`).

Rules
- Policies: `single` - the first vote decides; `quorum` - approved once approving weight is
  more than 1/2 of the total; `supermajority` - at least 2/3; `unanimous` - any rejection
  rejects, approved once every seat approved. For quorum and supermajority the request is
  rejected as soon as approval has become impossible (approving + undecided weight cannot
  reach the bar). Weights are summed as exact fractions of their decimal values.
- Only a seat holder may vote (`NotAnApprover`), once per level (`AlreadyVoted`); nothing may
  be decided on a closed request (`RequestClosed`). With `open_to_any` (for requests created
  by deliberation when the tenant configured no reviewers) the policy must be `single` and
  anyone may decide -- except the requester: an agent never approves its own flagged action.
  For the same reason no seat can be delegated to the requester.
- Delegation moves every seat the delegator holds to the delegate, who votes with the sum.
  A delegator who already voted cannot delegate. If the delegate already voted, that vote
  now carries the delegated weight too (and may decide the request at once).
- SLA: `on_deadline(now)` escalates to the next level of the chain once `now` reaches the
  `deadline`, or, past the last level, records `Expired` then `Rejected(reason="expired")`.
  Escalation *resets* the election: the new level's approvers get fresh seats, earlier votes
  and delegations stay in the history but no longer count, since the people who let the SLA
  lapse are not the ones the chain escalates to. The new level's SLA runs from `now`.
- Every closed request ends with exactly one `Approved` or `Rejected` event, so a consumer
  waiting for the outcome needs only those two.

Events carry `originator_id` (UUID), `originator_version` and `timestamp` (tz-aware). The wire
form is a separate plain dict: `event_to_dict` / `event_from_dict`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

from commands.approvals.exceptions import (
    AlreadyVoted,
    InvalidDecision,
    InvalidDelegation,
    InvalidRequest,
    NotAnApprover,
    RequestClosed,
    UnknownEvent,
)

REQUEST_ID_NAMESPACE: Final = uuid.UUID("5b7f6a52-8a63-4f0e-9b0c-3c1f1d7e2a41")
"""UUID-5 namespace of request ids derived from (tenant_id, command_id)."""

_TENANT_ID: Final = re.compile(r"^[a-z0-9_-]{3,64}$")


class Policy(StrEnum):
    SINGLE = "single"
    QUORUM = "quorum"
    SUPERMAJORITY = "supermajority"
    UNANIMOUS = "unanimous"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RejectionReason(StrEnum):
    REJECTED = "rejected"  # single: the first vote was a rejection
    VETOED = "vetoed"  # unanimous: someone rejected
    UNREACHABLE = "approval_unreachable"  # quorum/supermajority: the bar can no longer be met
    EXPIRED = "expired"  # the last level's SLA lapsed


@dataclass(frozen=True, slots=True)
class Approver:
    """One seat: who holds it and its voting weight (> 0)."""

    id: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """One level of the escalation chain: its approvers and their SLA (None = no deadline)."""

    approvers: tuple[Approver, ...]
    sla_seconds: float | None


def request_id_for(tenant_id: str, command_id: str) -> uuid.UUID:
    """The request id for a command: the same command always maps to the same request,
    so a retried `request(...)` is caught as a duplicate by the event store."""
    return uuid.uuid5(REQUEST_ID_NAMESPACE, f"{_normal_tenant(tenant_id)}/{command_id}")


class ApprovalRequest(Aggregate):
    """An approval request; create it with `ApprovalRequest.request(...)`."""

    class Event(Aggregate.Event):
        """Base class of the approval request's events."""

    class ApprovalRequested(Event, Aggregate.Created):
        subject: str
        description: str
        tenant_id: str
        requested_by: str
        approvers: tuple[Approver, ...]
        policy: str
        sla_seconds: float | None
        escalation: tuple[EscalationLevel, ...]
        command_id: str | None
        impact_score: float | None
        open_to_any: bool

        def apply(self, aggregate: ApprovalRequest) -> None:
            aggregate._on_requested(self)

    class VoteCast(Event):
        approver_id: str
        decision: str
        reason: str

        def apply(self, aggregate: ApprovalRequest) -> None:
            aggregate._on_vote_cast(self)

    class Delegated(Event):
        approver_id: str
        to: str

        def apply(self, aggregate: ApprovalRequest) -> None:
            aggregate._on_delegated(self)

    class Escalated(Event):
        level: int
        approvers: tuple[Approver, ...]
        sla_seconds: float | None

        def apply(self, aggregate: ApprovalRequest) -> None:
            aggregate._on_escalated(self)

    class Approved(Event):
        def apply(self, aggregate: ApprovalRequest) -> None:
            aggregate._on_closed(Status.APPROVED, None)

    class Rejected(Event):
        reason: str

        def apply(self, aggregate: ApprovalRequest) -> None:
            aggregate._on_closed(Status.REJECTED, self.reason)

    class Expired(Event):
        level: int

        def apply(self, aggregate: ApprovalRequest) -> None:
            aggregate._on_expired(self)

    # --- commands -----------------------------------------------------------------------------

    @classmethod
    def request(
        cls,
        *,
        subject: str,
        tenant_id: str,
        requested_by: str,
        approvers: Sequence[Approver | Mapping[str, Any]] = (),
        policy: Policy | str = Policy.SINGLE,
        description: str = "",
        sla_seconds: float | None = None,
        escalation: Sequence[EscalationLevel | Mapping[str, Any]] = (),
        command_id: str | None = None,
        impact_score: float | None = None,
        open_to_any: bool = False,
        request_id: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> ApprovalRequest:
        """Open a request. Approvers and levels may be given as dicts ({"id", "weight"},
        {"approvers", "sla_seconds"}). The id is `request_id`, else derived from
        (tenant_id, command_id), else random. Raises `InvalidRequest`."""
        tenant = _normal_tenant(tenant_id)
        kind = _policy(policy)
        seats = _approvers(approvers, allow_empty=open_to_any)
        levels = tuple(_level(level) for level in escalation)
        _check_request(subject, requested_by, kind, sla_seconds, levels, impact_score, open_to_any)
        if request_id is None and command_id is not None:
            request_id = request_id_for(tenant, command_id)
        return cls._create(
            cls.ApprovalRequested,
            id=request_id,
            timestamp=_aware(at),
            subject=subject,
            description=description,
            tenant_id=tenant,
            requested_by=requested_by,
            approvers=seats,
            policy=kind.value,
            sla_seconds=None if sla_seconds is None else float(sla_seconds),
            escalation=levels,
            command_id=command_id,
            impact_score=None if impact_score is None else float(impact_score),
            open_to_any=bool(open_to_any),
        )

    def cast_vote(
        self,
        approver_id: str,
        decision: Decision | str,
        reason: str = "",
        *,
        at: datetime | None = None,
    ) -> None:
        """Record a vote and, if it settles the request, the outcome."""
        self._require_pending()
        try:
            choice = Decision(decision)
        except ValueError:
            raise InvalidDecision(decision) from None
        if self._open_to_any:
            if approver_id == self._requested_by or not approver_id:
                raise NotAnApprover(self.id, approver_id)
        elif approver_id not in self._holders.values():
            raise NotAnApprover(self.id, approver_id)
        if approver_id in self._votes:
            raise AlreadyVoted(self.id, approver_id)
        timestamp = _aware(at)
        self.trigger_event(
            self.VoteCast,
            timestamp=timestamp,
            approver_id=approver_id,
            decision=choice.value,
            reason=reason,
        )
        self._settle(timestamp)

    def delegate(self, approver_id: str, to: str, *, at: datetime | None = None) -> None:
        """Hand every seat `approver_id` holds at this level to `to`."""
        self._require_pending()
        if self._open_to_any:
            raise InvalidDelegation("an open request has no seats to delegate: anyone may decide")
        if approver_id not in self._holders.values():
            raise NotAnApprover(self.id, approver_id)
        if approver_id in self._votes:
            raise AlreadyVoted(self.id, approver_id)
        if not to or to in (approver_id, self._requested_by):
            raise InvalidDelegation(
                f"delegate: got {to!r}, want someone other than {approver_id!r} and the requester"
            )
        timestamp = _aware(at)
        self.trigger_event(self.Delegated, timestamp=timestamp, approver_id=approver_id, to=to)
        self._settle(timestamp)

    def on_deadline(self, now: datetime) -> bool:
        """Escalate or expire if `now` has reached the deadline; True iff anything happened.

        Pure given `now` (no clock is read). A no-op on closed requests and without an SLA.
        """
        now = _aware(now)
        deadline = self.deadline
        if self._status is not Status.PENDING or deadline is None or now < deadline:
            return False
        if self._level < len(self._escalation):
            nxt = self._escalation[self._level]
            self.trigger_event(
                self.Escalated,
                timestamp=now,
                level=self._level + 1,
                approvers=nxt.approvers,
                sla_seconds=nxt.sla_seconds,
            )
        else:
            self.trigger_event(self.Expired, timestamp=now, level=self._level)
            self.trigger_event(self.Rejected, timestamp=now, reason=RejectionReason.EXPIRED.value)
        return True

    @classmethod
    def rebuild(cls, events: Iterable[CanMutateAggregate[uuid.UUID]]) -> ApprovalRequest:
        """The request as the fold of its events, in order (first must be ApprovalRequested)."""
        aggregate: ApprovalRequest | None = None
        for event in events:
            aggregate = event.mutate(aggregate)
        if aggregate is None:
            raise InvalidRequest("rebuild: got no events, want at least ApprovalRequested")
        return aggregate

    # --- queries -------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        return self._status

    @property
    def is_closed(self) -> bool:
        return self._status is not Status.PENDING

    @property
    def outcome_reason(self) -> str | None:
        """Why the request was rejected (a `RejectionReason` value), None otherwise."""
        return self._outcome_reason

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    @property
    def subject(self) -> str:
        return self._subject

    @property
    def description(self) -> str:
        return self._description

    @property
    def requested_by(self) -> str:
        return self._requested_by

    @property
    def command_id(self) -> str | None:
        return self._command_id

    @property
    def impact_score(self) -> float | None:
        return self._impact_score

    @property
    def open_to_any(self) -> bool:
        return self._open_to_any

    @property
    def level(self) -> int:
        """Current escalation level: 0 for the initial approvers."""
        return self._level

    @property
    def deadline(self) -> datetime | None:
        """When the current level's SLA lapses (None without an SLA)."""
        if self._sla_seconds is None:
            return None
        return self._level_started + timedelta(seconds=self._sla_seconds)

    @property
    def voting_weights(self) -> dict[str, float]:
        """Who may vote at this level and with what weight (delegations applied)."""
        weights: dict[str, Fraction] = {}
        for seat, weight in self._seats.items():
            holder = self._holders[seat]
            weights[holder] = weights.get(holder, Fraction(0)) + weight
        return {holder: float(weight) for holder, weight in weights.items()}

    @property
    def votes(self) -> dict[str, str]:
        """Votes cast at this level: voter -> "approve" | "reject"."""
        return {voter: decision.value for voter, decision in self._votes.items()}

    @property
    def delegations(self) -> dict[str, str]:
        """Delegations made at this level: delegator -> delegate."""
        return dict(self._delegations)

    # --- state transitions (called only from the events' apply) -------------------------------

    def _on_requested(self, event: ApprovalRequest.ApprovalRequested) -> None:
        self._subject = event.subject
        self._description = event.description
        self._tenant_id = event.tenant_id
        self._requested_by = event.requested_by
        self._policy = Policy(event.policy)
        self._escalation = event.escalation
        self._command_id = event.command_id
        self._impact_score = event.impact_score
        self._open_to_any = event.open_to_any
        self._status = Status.PENDING
        self._outcome_reason: str | None = None
        self._expired_at_level: int | None = None
        self._start_level(0, event.approvers, event.sla_seconds, event.timestamp)

    def _start_level(
        self, level: int, approvers: tuple[Approver, ...], sla: float | None, at: datetime
    ) -> None:
        self._level = level
        self._sla_seconds = sla
        self._level_started = at
        self._seats: dict[str, Fraction] = {a.id: _exact(a.weight) for a in approvers}
        self._holders: dict[str, str] = {a.id: a.id for a in approvers}
        self._votes: dict[str, Decision] = {}
        self._delegations: dict[str, str] = {}

    def _on_vote_cast(self, event: ApprovalRequest.VoteCast) -> None:
        self._votes[event.approver_id] = Decision(event.decision)

    def _on_delegated(self, event: ApprovalRequest.Delegated) -> None:
        for seat, holder in self._holders.items():
            if holder == event.approver_id:
                self._holders[seat] = event.to
        self._delegations[event.approver_id] = event.to

    def _on_escalated(self, event: ApprovalRequest.Escalated) -> None:
        self._start_level(event.level, event.approvers, event.sla_seconds, event.timestamp)

    def _on_expired(self, event: ApprovalRequest.Expired) -> None:
        self._expired_at_level = event.level

    def _on_closed(self, status: Status, reason: str | None) -> None:
        self._status = status
        self._outcome_reason = reason

    # --- rules ---------------------------------------------------------------------------------

    def _require_pending(self) -> None:
        if self._status is not Status.PENDING:
            raise RequestClosed(self.id, self._status.value)

    def _settle(self, at: datetime) -> None:
        """Trigger the outcome if the votes now decide the request."""
        outcome = self._outcome()
        if outcome is Status.APPROVED:
            self.trigger_event(self.Approved, timestamp=at)
        elif outcome is not None:
            self.trigger_event(self.Rejected, timestamp=at, reason=outcome.value)

    def _outcome(self) -> Status | RejectionReason | None:
        """APPROVED, a rejection reason, or None while undecided."""
        if self._policy is Policy.SINGLE:
            if not self._votes:
                return None
            first = next(iter(self._votes.values()))
            return Status.APPROVED if first is Decision.APPROVE else RejectionReason.REJECTED
        approve, reject, undecided = self._tally()
        total = approve + reject + undecided
        if self._policy is Policy.UNANIMOUS:
            if reject:
                return RejectionReason.VETOED
            return Status.APPROVED if not undecided else None
        if self._meets_bar(approve, total):
            return Status.APPROVED
        if self._meets_bar(approve + undecided, total):
            return None
        return RejectionReason.UNREACHABLE

    def _meets_bar(self, weight: Fraction, total: Fraction) -> bool:
        """Quorum: more than 1/2 of the total weight; supermajority: at least 2/3."""
        if self._policy is Policy.QUORUM:
            return 2 * weight > total
        return 3 * weight >= 2 * total

    def _tally(self) -> tuple[Fraction, Fraction, Fraction]:
        """(approving, rejecting, undecided) weight over the current level's seats."""
        approve = reject = undecided = Fraction(0)
        for seat, weight in self._seats.items():
            decision = self._votes.get(self._holders[seat])
            if decision is Decision.APPROVE:
                approve += weight
            elif decision is Decision.REJECT:
                reject += weight
            else:
                undecided += weight
        return approve, reject, undecided


# --- input checks --------------------------------------------------------------------------------


def _normal_tenant(tenant_id: str) -> str:
    tenant = tenant_id.strip().lower()
    if not _TENANT_ID.match(tenant):
        raise InvalidRequest(f"tenant_id: got {tenant_id!r}, want ^[a-z0-9_-]{{3,64}}$")
    return tenant


def _policy(policy: Policy | str) -> Policy:
    try:
        return Policy(policy)
    except ValueError:
        want = ", ".join(p.value for p in Policy)
        raise InvalidRequest(f"policy: got {policy!r}, want one of {want}") from None


def _approver(value: Approver | Mapping[str, Any]) -> Approver:
    if isinstance(value, Mapping):
        fields = dict(value)
        if "id" not in fields:
            raise InvalidRequest(f"approver: got {fields!r}, want an 'id'")
        value = Approver(id=fields["id"], weight=fields.get("weight", 1.0))
    if not isinstance(value.id, str) or not value.id.strip():
        raise InvalidRequest(f"approver id: got {value.id!r}, want a non-empty string")
    weight = value.weight
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise InvalidRequest(f"weight of {value.id!r}: got {weight!r}, want a finite number > 0")
    if weight <= 0:
        raise InvalidRequest(f"weight of {value.id!r}: got {weight!r}, want a finite number > 0")
    return value


def _approvers(values: Sequence[Approver | Mapping[str, Any]], *, allow_empty: bool) -> tuple[Approver, ...]:
    seats = tuple(_approver(value) for value in values)
    if not seats and not allow_empty:
        raise InvalidRequest("approvers: got none, want at least one (or open_to_any=True)")
    ids = [seat.id for seat in seats]
    if len(set(ids)) != len(ids):
        raise InvalidRequest(f"approvers: got duplicate ids in {ids!r}, want each once")
    return seats


def _level(value: EscalationLevel | Mapping[str, Any]) -> EscalationLevel:
    if isinstance(value, Mapping):
        fields = dict(value)
        if "approvers" not in fields:
            raise InvalidRequest(f"escalation level: got {fields!r}, want 'approvers'")
        value = EscalationLevel(tuple(fields["approvers"]), fields.get("sla_seconds"))
    _check_sla(value.sla_seconds)
    seats = _approvers(value.approvers, allow_empty=False)
    sla = None if value.sla_seconds is None else float(value.sla_seconds)
    return EscalationLevel(seats, sla)


def _check_sla(sla_seconds: float | None) -> None:
    if sla_seconds is None:
        return
    if isinstance(sla_seconds, bool) or not isinstance(sla_seconds, int | float):
        raise InvalidRequest(f"sla_seconds: got {sla_seconds!r}, want a number > 0 or None")
    if not (math.isfinite(sla_seconds) and sla_seconds > 0):
        raise InvalidRequest(f"sla_seconds: got {sla_seconds!r}, want a number > 0 or None")


def _check_request(
    subject: str,
    requested_by: str,
    policy: Policy,
    sla_seconds: float | None,
    levels: tuple[EscalationLevel, ...],
    impact_score: float | None,
    open_to_any: bool,
) -> None:
    if not subject.strip() or not requested_by.strip():
        raise InvalidRequest("subject and requested_by: got an empty string, want text")
    if open_to_any and policy is not Policy.SINGLE:
        raise InvalidRequest(f"policy: got {policy.value!r} with open_to_any, want 'single'")
    _check_sla(sla_seconds)
    timed = [sla_seconds, *(level.sla_seconds for level in levels[:-1])]
    if levels and any(sla is None for sla in timed):
        raise InvalidRequest("escalation: every level but the last needs an sla_seconds")
    if impact_score is not None and not (0.0 <= impact_score <= 1.0):
        raise InvalidRequest(f"impact_score: got {impact_score!r}, want a number in [0, 1]")


def _exact(weight: float) -> Fraction:
    # str() first: 0.1 means one tenth to the person who typed it, not 0x3FB999999999999A.
    return Fraction(str(weight))


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return ApprovalRequest.Event.create_timestamp()
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidRequest(f"timestamp: got naive {at.isoformat()}, want a timezone-aware datetime")
    return at


# --- wire format -----------------------------------------------------------------------------------

EVENT_TYPES: Final[Mapping[str, type[ApprovalRequest.Event]]] = {
    cls.__name__: cls
    for cls in (
        ApprovalRequest.ApprovalRequested,
        ApprovalRequest.VoteCast,
        ApprovalRequest.Delegated,
        ApprovalRequest.Escalated,
        ApprovalRequest.Approved,
        ApprovalRequest.Rejected,
        ApprovalRequest.Expired,
    )
}
_BASE_FIELDS: Final = ("originator_id", "originator_version", "timestamp", "originator_topic")
_AGGREGATE_TOPIC: Final = get_topic(ApprovalRequest)


def _approvers_to_wire(approvers: tuple[Approver, ...]) -> list[dict[str, Any]]:
    return [{"id": a.id, "weight": a.weight} for a in approvers]


def _approvers_from_wire(items: Iterable[Mapping[str, Any]]) -> tuple[Approver, ...]:
    return tuple(Approver(id=item["id"], weight=item["weight"]) for item in items)


def event_to_dict(event: CanMutateAggregate[uuid.UUID]) -> dict[str, Any]:
    """The event as a dict of primitives: str, int, float, bool, None, lists and dicts.

    `type` names the event class; `originator_id` is the UUID as a string and `timestamp` an
    ISO-8601 string with its UTC offset. The aggregate's Python topic is not on the wire.
    """
    name = type(event).__name__
    if EVENT_TYPES.get(name) is not type(event):
        raise UnknownEvent(f"event_to_dict: got {type(event).__qualname__}, want an approval event")
    record: dict[str, Any] = {
        "type": name,
        "originator_id": str(event.originator_id),
        "originator_version": event.originator_version,
        "timestamp": event.timestamp.isoformat(),
    }
    for key, value in vars(event).items():
        if key in _BASE_FIELDS:
            continue
        if key == "approvers":
            value = _approvers_to_wire(value)
        elif key == "escalation":
            value = [
                {"approvers": _approvers_to_wire(level.approvers), "sla_seconds": level.sla_seconds}
                for level in value
            ]
        record[key] = value
    return record


def event_from_dict(record: Mapping[str, Any]) -> ApprovalRequest.Event:
    """Inverse of `event_to_dict`; raises `UnknownEvent` for an unknown type or missing field."""
    event_class = EVENT_TYPES.get(record.get("type", ""))
    if event_class is None:
        raise UnknownEvent(f"type: got {record.get('type')!r}, want one of {sorted(EVENT_TYPES)}")
    fields = {key: value for key, value in record.items() if key != "type"}
    try:
        fields["originator_id"] = uuid.UUID(fields["originator_id"])
        fields["timestamp"] = datetime.fromisoformat(fields["timestamp"])
        if "approvers" in fields:
            fields["approvers"] = _approvers_from_wire(fields["approvers"])
        if "escalation" in fields:
            fields["escalation"] = tuple(
                EscalationLevel(_approvers_from_wire(level["approvers"]), level["sla_seconds"])
                for level in fields["escalation"]
            )
        if event_class is ApprovalRequest.ApprovalRequested:
            fields["originator_topic"] = _AGGREGATE_TOPIC
        return event_class(**fields)
    except (KeyError, TypeError, ValueError) as error:
        raise UnknownEvent(f"{event_class.__name__}: cannot decode {dict(record)!r}: {error}") from None
