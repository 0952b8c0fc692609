"""Voting policies: single, quorum, supermajority, unanimous, with weights."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.approvals import ApprovalRequest, Approver, Policy, Status

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def request(policy: str, weights: Mapping[str, float]) -> ApprovalRequest:
    return ApprovalRequest.request(
        subject="deploy model v7",
        tenant_id="acme",
        requested_by="agent-7",
        approvers=[Approver(name, weight) for name, weight in weights.items()],
        policy=policy,
        at=T0,
    )


def vote(req: ApprovalRequest, *votes: tuple[str, str]) -> ApprovalRequest:
    for approver_id, decision in votes:
        req.cast_vote(approver_id, decision, at=T0)
    return req


EQUAL3 = {"a": 1, "b": 1, "c": 1}


def test_single_policy_first_approval_approves() -> None:
    req = vote(request("single", EQUAL3), ("b", "approve"))
    assert req.status is Status.APPROVED


def test_single_policy_first_rejection_rejects() -> None:
    req = vote(request("single", EQUAL3), ("c", "reject"))
    assert (req.status, req.outcome_reason) == (Status.REJECTED, "rejected")


def test_quorum_of_three_approves_when_two_approve() -> None:
    req = vote(request("quorum", EQUAL3), ("a", "approve"))
    assert req.status is Status.PENDING
    vote(req, ("c", "approve"))
    assert req.status is Status.APPROVED


def test_quorum_needs_more_than_half_so_exactly_half_is_not_enough() -> None:
    req = vote(request("quorum", {"a": 1, "b": 1, "c": 1, "d": 1}), ("a", "approve"), ("b", "approve"))
    assert req.status is Status.PENDING
    vote(req, ("c", "reject"))
    assert req.status is Status.PENDING  # d could still make it 3 of 4
    vote(req, ("d", "reject"))
    assert (req.status, req.outcome_reason) == (Status.REJECTED, "approval_unreachable")


def test_quorum_rejects_as_soon_as_approval_becomes_impossible() -> None:
    req = vote(request("quorum", EQUAL3), ("a", "reject"), ("b", "reject"))
    assert (req.status, req.outcome_reason) == (Status.REJECTED, "approval_unreachable")


def test_quorum_counts_weight_not_heads() -> None:
    req = vote(request("quorum", {"lead": 3, "b": 1, "c": 1}), ("lead", "approve"))
    assert req.status is Status.APPROVED  # 3 of 5
    req = vote(request("quorum", {"lead": 3, "b": 1, "c": 1}), ("b", "approve"), ("c", "approve"))
    assert req.status is Status.PENDING  # 2 of 5
    vote(req, ("lead", "reject"))
    assert req.status is Status.REJECTED


def test_supermajority_approves_at_two_thirds() -> None:
    req = vote(request("supermajority", EQUAL3), ("a", "approve"), ("b", "approve"))
    assert req.status is Status.APPROVED


def test_supermajority_of_four_needs_three() -> None:
    req = vote(request("supermajority", {"a": 1, "b": 1, "c": 1, "d": 1}), ("a", "approve"), ("b", "approve"))
    assert req.status is Status.PENDING
    vote(req, ("c", "approve"))
    assert req.status is Status.APPROVED


def test_supermajority_rejects_once_two_thirds_is_out_of_reach() -> None:
    req = vote(request("supermajority", EQUAL3), ("a", "reject"))
    assert req.status is Status.PENDING  # b and c together are still 2/3
    vote(req, ("b", "reject"))
    assert (req.status, req.outcome_reason) == (Status.REJECTED, "approval_unreachable")


def test_decimal_weights_are_compared_exactly() -> None:
    req = vote(request("supermajority", {"a": 0.1, "b": 0.1, "c": 0.1}), ("a", "approve"), ("b", "approve"))
    assert req.status is Status.APPROVED  # exactly 2/3, which float sums would miss
    req = vote(request("quorum", {"a": 0.1, "b": 0.2, "c": 0.3}), ("a", "approve"), ("b", "approve"))
    assert req.status is Status.PENDING  # 0.3 is exactly half of 0.6: not more than half


def test_unanimous_fails_on_any_rejection() -> None:
    req = vote(request("unanimous", EQUAL3), ("a", "approve"), ("b", "reject"))
    assert (req.status, req.outcome_reason) == (Status.REJECTED, "vetoed")


def test_unanimous_approves_only_when_everyone_approved() -> None:
    req = vote(request("unanimous", EQUAL3), ("a", "approve"), ("b", "approve"))
    assert req.status is Status.PENDING
    vote(req, ("c", "approve"))
    assert req.status is Status.APPROVED


def oracle(policy: Policy, weights: dict[str, int], votes: dict[str, str]) -> Status | None:
    """The voting rules restated over integers, for the property test below."""
    total = sum(weights.values())
    yes = sum(w for k, w in weights.items() if votes.get(k) == "approve")
    no = sum(w for k, w in weights.items() if votes.get(k) == "reject")
    open_ = total - yes - no
    if policy is Policy.UNANIMOUS:
        return Status.REJECTED if no else (Status.APPROVED if not open_ else None)
    bar = Fraction(1, 2) if policy is Policy.QUORUM else Fraction(2, 3)

    def meets(weight: int) -> bool:
        return weight > bar * total if policy is Policy.QUORUM else weight >= bar * total

    if meets(yes):
        return Status.APPROVED
    return None if meets(yes + open_) else Status.REJECTED


@given(
    policy=st.sampled_from([Policy.QUORUM, Policy.SUPERMAJORITY, Policy.UNANIMOUS]),
    weights=st.lists(st.integers(1, 5), min_size=1, max_size=7),
    data=st.data(),
)
def test_the_request_closes_exactly_when_the_rules_say_so(
    policy: Policy, weights: list[int], data: st.DataObject
) -> None:
    seats = {f"p{i}": w for i, w in enumerate(weights)}
    order = data.draw(st.permutations(list(seats)))
    choice = st.sampled_from(["approve", "reject"])
    decisions = data.draw(st.lists(choice, min_size=len(order), max_size=len(order)))
    req = request(policy.value, seats)
    cast: dict[str, str] = {}
    for voter, decision in zip(order, decisions, strict=True):
        req.cast_vote(voter, decision, at=T0)
        cast[voter] = decision
        expected = oracle(policy, seats, cast)
        assert req.status is (expected or Status.PENDING)
        if expected is not None:
            break
    assert req.is_closed  # every seat voted, or the request closed earlier


@pytest.mark.parametrize("policy", ["single", "quorum", "supermajority", "unanimous"])
def test_one_approver_decides_alone_under_every_policy(policy: str) -> None:
    assert vote(request(policy, {"solo": 2}), ("solo", "approve")).status is Status.APPROVED
    assert vote(request(policy, {"solo": 2}), ("solo", "reject")).status is Status.REJECTED
