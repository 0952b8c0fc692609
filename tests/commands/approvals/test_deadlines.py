"""SLA deadlines: escalation through the chain, then expiry as a rejection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commands.approvals import ApprovalRequest, NotAnApprover, Status

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def escalating(policy: str = "quorum") -> ApprovalRequest:
    return ApprovalRequest.request(
        subject="delete production backups",
        tenant_id="acme",
        requested_by="agent-7",
        approvers=[{"id": "a"}, {"id": "b"}, {"id": "c"}],
        policy=policy,
        sla_seconds=3600,
        escalation=[
            {"approvers": [{"id": "lead"}, {"id": "a"}], "sla_seconds": 1800},
            {"approvers": [{"id": "cto"}], "sla_seconds": 600},
        ],
        at=T0,
    )


def names(events: object) -> list[str]:
    return [type(event).__name__ for event in events]  # type: ignore[attr-defined]


def test_the_deadline_is_the_level_start_plus_its_sla() -> None:
    assert escalating().deadline == T0 + timedelta(hours=1)


def test_nothing_happens_before_the_deadline() -> None:
    req = escalating()
    req.collect_events()
    assert req.on_deadline(T0 + timedelta(minutes=59)) is False
    assert req.collect_events() == []
    assert req.level == 0


def test_the_deadline_escalates_to_the_next_level_and_resets_the_votes() -> None:
    req = escalating()
    req.cast_vote("a", "approve", at=T0)
    req.collect_events()
    now = T0 + timedelta(hours=1)
    assert req.on_deadline(now) is True
    assert names(req.collect_events()) == ["Escalated"]
    assert (req.level, req.status) == (1, Status.PENDING)
    assert req.voting_weights == {"lead": 1.0, "a": 1.0}
    assert req.votes == {}
    assert req.deadline == now + timedelta(minutes=30)
    with pytest.raises(NotAnApprover):
        req.cast_vote("b", "approve")  # b was a level-0 approver only
    req.cast_vote("a", "approve")  # a may vote again at the new level
    req.cast_vote("lead", "approve")
    assert req.status is Status.APPROVED


def test_past_the_last_level_the_request_expires_as_a_rejection() -> None:
    req = escalating()
    first = T0 + timedelta(hours=1)
    second = first + timedelta(minutes=30)
    third = second + timedelta(minutes=10)
    assert req.on_deadline(first) and req.on_deadline(second)
    assert req.level == 2 and req.voting_weights == {"cto": 1.0}
    req.collect_events()
    assert req.on_deadline(third) is True
    events = req.collect_events()
    assert names(events) == ["Expired", "Rejected"]
    assert events[1].reason == "expired"  # type: ignore[attr-defined]
    assert all(event.timestamp == third for event in events)
    assert (req.status, req.outcome_reason) == (Status.REJECTED, "expired")


def test_a_request_without_escalation_expires_at_its_first_deadline() -> None:
    req = ApprovalRequest.request(
        subject="s", tenant_id="acme", requested_by="x", approvers=[{"id": "a"}], sla_seconds=60, at=T0
    )
    assert req.on_deadline(T0 + timedelta(seconds=60)) is True
    assert req.outcome_reason == "expired"


def test_deadlines_do_nothing_to_closed_requests_or_requests_without_an_sla() -> None:
    req = escalating("single")
    req.cast_vote("a", "approve")
    assert req.on_deadline(T0 + timedelta(days=30)) is False
    assert req.status is Status.APPROVED
    untimed = ApprovalRequest.request(
        subject="s", tenant_id="acme", requested_by="x", approvers=[{"id": "a"}]
    )
    assert untimed.deadline is None
    assert untimed.on_deadline(T0 + timedelta(days=30)) is False


def test_a_late_scheduler_escalates_one_level_per_call_giving_each_level_its_full_sla() -> None:
    req = escalating()
    very_late = T0 + timedelta(days=2)
    assert req.on_deadline(very_late) is True
    assert req.level == 1
    assert req.deadline == very_late + timedelta(minutes=30)
