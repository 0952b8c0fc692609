"""Who may decide, once, on an open request; delegation; request preconditions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.approvals import (
    AlreadyVoted,
    ApprovalRequest,
    InvalidDecision,
    InvalidDelegation,
    InvalidRequest,
    NotAnApprover,
    RequestClosed,
    Status,
    request_id_for,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def request(
    policy: str = "quorum", approvers: list[dict[str, object]] | None = None, **extra: object
) -> ApprovalRequest:
    return ApprovalRequest.request(
        subject="wire 25,000 EUR",
        tenant_id="acme",
        requested_by="agent-7",
        approvers=approvers if approvers is not None else [{"id": "a"}, {"id": "b"}, {"id": "c"}],
        policy=policy,
        at=T0,
        **extra,  # type: ignore[arg-type]
    )


def test_a_vote_from_someone_who_is_not_an_approver_is_refused() -> None:
    req = request()
    with pytest.raises(NotAnApprover) as raised:
        req.cast_vote("mallory", "approve")
    assert raised.value.approver_id == "mallory"
    assert raised.value.request_id == req.id
    assert req.votes == {}


def test_a_second_vote_by_the_same_person_is_refused() -> None:
    req = request()
    req.cast_vote("a", "approve")
    with pytest.raises(AlreadyVoted):
        req.cast_vote("a", "reject")
    assert req.votes == {"a": "approve"}


def test_no_decision_is_accepted_once_the_request_is_closed() -> None:
    req = request("single")
    req.cast_vote("a", "reject", "too risky")
    with pytest.raises(RequestClosed) as raised:
        req.cast_vote("b", "approve")
    assert raised.value.status == "rejected"
    with pytest.raises(RequestClosed):
        req.delegate("b", "d")


def test_a_decision_other_than_approve_or_reject_is_refused() -> None:
    with pytest.raises(InvalidDecision, match="want 'approve' or 'reject'"):
        request().cast_vote("a", "abstain")


def test_an_open_request_lets_anyone_decide_alone() -> None:
    req = request("single", approvers=[], open_to_any=True)
    req.cast_vote("whoever-is-on-call", "approve")
    assert req.status is Status.APPROVED


def test_the_requester_cannot_decide_its_own_open_request() -> None:
    req = request("single", approvers=[], open_to_any=True)
    with pytest.raises(NotAnApprover):
        req.cast_vote("agent-7", "approve")
    assert req.status is Status.PENDING


def test_no_seat_can_be_delegated_to_the_requester() -> None:
    with pytest.raises(InvalidDelegation, match="requester"):
        request().delegate("a", "agent-7")


def test_an_open_request_has_no_seats_to_delegate() -> None:
    with pytest.raises(InvalidDelegation):
        request("single", approvers=[], open_to_any=True).delegate("a", "b")


def test_an_open_request_must_use_the_single_policy() -> None:
    with pytest.raises(InvalidRequest, match="want 'single'"):
        request("quorum", approvers=[], open_to_any=True)


def test_delegation_hands_the_seat_and_its_weight_to_the_delegate() -> None:
    req = request(approvers=[{"id": "a", "weight": 3}, {"id": "b"}, {"id": "c"}])
    req.delegate("a", "deputy")
    assert req.voting_weights == {"deputy": 3.0, "b": 1.0, "c": 1.0}
    assert req.delegations == {"a": "deputy"}
    with pytest.raises(NotAnApprover):
        req.cast_vote("a", "approve")
    req.cast_vote("deputy", "approve")
    assert req.status is Status.APPROVED  # 3 of 5


def test_a_delegate_who_already_holds_a_seat_votes_with_both_weights() -> None:
    req = request()
    req.delegate("a", "b")
    assert req.voting_weights == {"b": 2.0, "c": 1.0}
    req.cast_vote("b", "approve")
    assert req.status is Status.APPROVED  # 2 of 3


def test_delegating_to_someone_who_already_voted_adds_weight_to_that_vote() -> None:
    req = request()
    req.cast_vote("b", "approve")
    assert req.status is Status.PENDING
    req.delegate("a", "b")
    assert req.status is Status.APPROVED


def test_delegations_chain_and_the_last_delegate_holds_every_seat() -> None:
    req = request("unanimous")
    req.delegate("a", "b")
    req.delegate("b", "c")
    assert req.voting_weights == {"c": 3.0}
    req.cast_vote("c", "approve")
    assert req.status is Status.APPROVED


def test_a_delegator_who_already_voted_cannot_delegate() -> None:
    req = request()
    req.cast_vote("a", "approve")
    with pytest.raises(AlreadyVoted):
        req.delegate("a", "d")


def test_delegating_to_oneself_or_to_nobody_is_refused() -> None:
    req = request()
    with pytest.raises(InvalidDelegation):
        req.delegate("a", "a")
    with pytest.raises(InvalidDelegation):
        req.delegate("a", "")
    with pytest.raises(NotAnApprover):
        req.delegate("mallory", "a")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"approvers": []}, "at least one"),
        ({"approvers": [{"id": "a"}, {"id": "a"}]}, "duplicate"),
        ({"approvers": [{"id": "a", "weight": 0}]}, "want a finite number > 0"),
        ({"approvers": [{"id": "a", "weight": float("inf")}]}, "want a finite number > 0"),
        ({"approvers": [{"weight": 1}]}, "want an 'id'"),
        ({"policy": "plurality"}, "want one of"),
        ({"sla_seconds": -5}, "sla_seconds"),
        ({"escalation": [{"approvers": [{"id": "boss"}]}]}, "needs an sla_seconds"),
        ({"impact_score": 1.5}, "impact_score"),
    ],
)
def test_malformed_requests_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        request(**overrides)  # type: ignore[arg-type]


def test_tenant_ids_are_trimmed_lowercased_and_checked() -> None:
    req = ApprovalRequest.request(subject="s", tenant_id=" ACME ", requested_by="x", approvers=[{"id": "a"}])
    assert req.tenant_id == "acme"
    with pytest.raises(InvalidRequest, match="tenant_id"):
        ApprovalRequest.request(subject="s", tenant_id="a!", requested_by="x", approvers=[{"id": "a"}])


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        request().cast_vote("a", "approve", at=datetime(2026, 11, 1, 9, 0))


def test_the_same_command_always_maps_to_the_same_request_id() -> None:
    first = request(command_id="cmd-42")
    again = request(command_id="cmd-42")
    assert first.id == again.id == request_id_for("ACME", "cmd-42")
    assert request(command_id="cmd-43").id != first.id
    assert request().id != request().id
