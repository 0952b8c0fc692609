"""The rule-based cold-start prior: documented weights and the critical floor."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.scoring.features import COMPONENTS, ScoringInput, extract_features
from streams.scoring.prior import CRITICAL_FLOOR, FLOOR_CONTRIBUTION, WEIGHTS, prior_score


def test_weights_are_the_documented_ones() -> None:
    assert dict(WEIGHTS) == {
        "semantic": 0.3,
        "permission": 0.2,
        "volume": 0.1,
        "context": 0.1,
        "drift": 0.1,
        "priority": 0.1,
        "message_type": 0.1,
    }
    assert tuple(WEIGHTS) == COMPONENTS


def test_each_component_contributes_its_weight_times_its_value() -> None:
    features = {name: 1.0 for name in COMPONENTS}
    features["semantic"] = 0.5
    prior = prior_score(features)
    assert dict(prior.contributions)["semantic"] == pytest.approx(0.15)
    assert dict(prior.contributions)["permission"] == pytest.approx(0.2)
    assert prior.score == pytest.approx(0.85)


def test_all_components_at_one_score_one_and_missing_ones_count_as_zero() -> None:
    assert prior_score({name: 1.0 for name in COMPONENTS}).score == pytest.approx(1.0)
    assert prior_score({}).score == 0.0


def test_a_benign_query_and_a_risky_transfer_score_as_the_old_scorer_did() -> None:
    benign = extract_features(
        ScoringInput("acme", "a1", "query", "low", "Summarise the weekly report", tool="docs.read")
    )
    risky = extract_features(
        ScoringInput(
            "acme",
            "a1",
            "governance_request",
            "high",
            "Urgent security breach: transfer the funds and delete the audit trail",
            {"amount": 25_000},
            "payments.transfer",
        )
    )
    # .3*.1 + .2*.2 + .1*.1 + .1*.2 + 0 + .1*.2 + .1*.2
    assert prior_score(benign).score == pytest.approx(0.14)
    # .3*1.0 (5 keywords) + .2*.9 + .1*.1 + .1*.6 + 0 + .1*.7 + .1*.8
    assert prior_score(risky).score == pytest.approx(0.70)


def test_critical_priority_floors_the_score_at_point_nine() -> None:
    features = extract_features(ScoringInput("acme", "a1", "heartbeat", "critical", "ping"))
    prior = prior_score(features)
    assert prior.raw < CRITICAL_FLOOR
    assert prior.score == CRITICAL_FLOOR
    assert prior.contributions[-1] == (FLOOR_CONTRIBUTION, pytest.approx(CRITICAL_FLOOR - prior.raw))


def test_the_floor_never_lowers_a_higher_critical_score() -> None:
    features = {name: 1.0 for name in COMPONENTS} | {"priority_critical": 1.0}
    prior = prior_score(features)
    assert prior.score == pytest.approx(1.0)
    assert all(name != FLOOR_CONTRIBUTION for name, _ in prior.contributions)


@given(
    st.dictionaries(st.sampled_from(COMPONENTS), st.floats(0.0, 1.0), max_size=len(COMPONENTS)),
    st.booleans(),
)
def test_the_prior_is_in_the_unit_interval_and_its_contributions_sum_to_it(
    components: dict[str, float], critical: bool
) -> None:
    features = components | {"priority_critical": 1.0 if critical else 0.0}
    prior = prior_score(features)
    assert 0.0 <= prior.score <= 1.0
    assert math.isclose(sum(v for _, v in prior.contributions), prior.score, abs_tol=1e-9)
    if critical:
        assert prior.score >= CRITICAL_FLOOR
