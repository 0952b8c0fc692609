"""Events: frozen and complete, state is their fold, and the wire dicts round-trip."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.approvals import (
    EVENT_TYPES,
    ApprovalError,
    ApprovalRequest,
    UnknownEvent,
    event_from_dict,
    event_to_dict,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def eventful() -> tuple[ApprovalRequest, list[Any]]:
    """A request that goes through every kind of event but Approved."""
    req = ApprovalRequest.request(
        subject="rotate signing keys",
        description="scheduled rotation",
        tenant_id="acme",
        requested_by="agent-7",
        approvers=[{"id": "a", "weight": 2}, {"id": "b", "weight": 1.5}, {"id": "c"}],
        policy="supermajority",
        sla_seconds=600,
        escalation=[{"approvers": [{"id": "lead"}], "sla_seconds": 300}],
        command_id="cmd-9",
        impact_score=0.87,
        at=T0,
    )
    req.delegate("c", "d", at=T0 + timedelta(seconds=5))
    req.cast_vote("a", "approve", "fine by me", at=T0 + timedelta(seconds=10))
    req.on_deadline(T0 + timedelta(seconds=600))
    req.on_deadline(T0 + timedelta(seconds=900))
    return req, list(req.collect_events())


def test_every_event_carries_its_originator_id_version_and_timestamp() -> None:
    req, events = eventful()
    assert [type(e).__name__ for e in events] == [
        "ApprovalRequested",
        "Delegated",
        "VoteCast",
        "Escalated",
        "Expired",
        "Rejected",
    ]
    assert {e.originator_id for e in events} == {req.id}
    assert [e.originator_version for e in events] == list(range(1, 7))
    assert all(e.timestamp.tzinfo is not None for e in events)


def test_events_are_frozen() -> None:
    _, events = eventful()
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[2].decision = "reject"


def test_rebuilding_from_the_events_gives_the_live_state() -> None:
    live, events = eventful()
    rebuilt = ApprovalRequest.rebuild(events)
    assert rebuilt == live
    assert (rebuilt.status, rebuilt.outcome_reason, rebuilt.level) == (live.status, "expired", 1)


def test_a_prefix_of_the_events_gives_the_state_at_that_point() -> None:
    _, events = eventful()
    at_vote = ApprovalRequest.rebuild(events[:3])
    assert at_vote.votes == {"a": "approve"}
    assert at_vote.voting_weights == {"a": 2.0, "b": 1.5, "d": 1.0}
    assert at_vote.version == 3


def test_rebuild_needs_at_least_the_creation_event() -> None:
    with pytest.raises(ApprovalError):
        ApprovalRequest.rebuild([])


def only_primitives(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and only_primitives(v) for k, v in value.items())
    if isinstance(value, list):
        return all(only_primitives(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_wire_dicts_hold_only_primitive_types_and_survive_json() -> None:
    _, events = eventful()
    records = [event_to_dict(e) for e in events]
    assert all(only_primitives(r) for r in records)
    assert [event_from_dict(json.loads(json.dumps(r))) for r in records] == events
    assert records[0]["approvers"][1] == {"id": "b", "weight": 1.5}
    assert records[0]["escalation"] == [{"approvers": [{"id": "lead", "weight": 1.0}], "sla_seconds": 300.0}]
    assert records[2] | {"originator_id": "-"} == {
        "type": "VoteCast",
        "originator_id": "-",
        "originator_version": 3,
        "timestamp": "2026-11-01T09:00:10+00:00",
        "approver_id": "a",
        "decision": "approve",
        "reason": "fine by me",
    }


def test_every_event_type_is_on_the_wire_under_its_class_name() -> None:
    assert sorted(EVENT_TYPES) == sorted(
        ["ApprovalRequested", "VoteCast", "Delegated", "Escalated", "Approved", "Rejected", "Expired"]
    )


@pytest.mark.parametrize(
    "mutation",
    [
        {"type": "VoteRetracted"},
        {"type": None},
        {"originator_id": "not-a-uuid"},
        {"timestamp": "yesterday"},
        {"approver_id": None, "unexpected": 1},
    ],
    ids=["unknown-type", "missing-type", "bad-uuid", "bad-timestamp", "extra-field"],
)
def test_undecodable_wire_dicts_raise_unknown_event(mutation: dict[str, object]) -> None:
    _, events = eventful()
    record = event_to_dict(events[2]) | mutation
    with pytest.raises(UnknownEvent):
        event_from_dict(record)


def test_a_wire_dict_missing_a_field_raises_unknown_event() -> None:
    _, events = eventful()
    record = event_to_dict(events[2])
    del record["decision"]
    with pytest.raises(UnknownEvent, match="VoteCast"):
        event_from_dict(record)


VOTERS = ["a", "b", "c", "d", "lead", "mallory"]
commands = st.lists(
    st.one_of(
        st.tuples(st.just("vote"), st.sampled_from(VOTERS), st.sampled_from(["approve", "reject"])),
        st.tuples(st.just("delegate"), st.sampled_from(VOTERS), st.sampled_from(VOTERS)),
        st.tuples(st.just("tick"), st.integers(0, 1200), st.just("")),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(policy=st.sampled_from(["single", "quorum", "supermajority", "unanimous"]), script=commands)
def test_any_sequence_of_commands_rebuilds_to_the_live_state(policy: str, script: list[tuple]) -> None:
    req = ApprovalRequest.request(
        subject="s",
        tenant_id="acme",
        requested_by="x",
        approvers=[{"id": "a", "weight": 2}, {"id": "b"}, {"id": "c", "weight": 0.5}],
        policy=policy,
        sla_seconds=300,
        escalation=[{"approvers": [{"id": "lead"}, {"id": "d"}], "sla_seconds": 300}],
        at=T0,
    )
    clock = T0
    for kind, first, second in script:
        try:
            if kind == "vote":
                req.cast_vote(first, second, at=clock)
            elif kind == "delegate":
                req.delegate(first, second, at=clock)
            else:
                clock += timedelta(seconds=first)
                req.on_deadline(clock)
        except ApprovalError:
            pass  # refused commands must leave no trace, which the rebuild checks
    events = list(req.collect_events())
    assert ApprovalRequest.rebuild(events) == req
    assert ApprovalRequest.rebuild(event_from_dict(event_to_dict(e)) for e in events) == req
    outcomes = [type(e).__name__ for e in events if type(e).__name__ in ("Approved", "Rejected")]
    assert len(outcomes) == (1 if req.is_closed else 0)
    if outcomes:
        assert type(events[-1]).__name__ == outcomes[0]  # nothing happens after the outcome
