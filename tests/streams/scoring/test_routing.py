"""Deliberation routing: the threshold rule and per-tenant / per-message-type overrides."""

from __future__ import annotations

import pytest

from streams.scoring.exceptions import InvalidThreshold
from streams.scoring.features import ScoringInput, extract_features
from streams.scoring.model import DEFAULT_THRESHOLD, ImpactModel, RoutingPolicy, route


def test_scores_at_or_above_the_threshold_go_to_deliberation() -> None:
    assert DEFAULT_THRESHOLD == 0.8
    assert route(0.8) == "deliberation"
    assert route(0.7999) == "auto"
    assert route(0.5, threshold=0.5) == "deliberation"


def test_without_overrides_the_default_applies() -> None:
    policy = RoutingPolicy()
    assert policy.threshold_for("acme", "command") == 0.8
    assert policy.route(0.79, "acme", "command") == "auto"


def test_a_tenant_override_replaces_the_default_in_both_directions() -> None:
    policy = RoutingPolicy(per_tenant={"Strict-Co": 0.4, "lax-co": 0.95})
    assert policy.threshold_for(" strict-co ", "command") == 0.4
    assert policy.threshold_for("lax-co", "command") == 0.95
    assert policy.route(0.9, "lax-co", "command") == "auto"
    assert policy.route(0.9, "other", "command") == "deliberation"


def test_a_message_type_override_applies_to_every_tenant() -> None:
    policy = RoutingPolicy(per_message_type={"governance_request": 0.5})
    assert policy.threshold_for("acme", "GOVERNANCE_REQUEST") == 0.5
    assert policy.threshold_for("acme", "query") == 0.8


def test_when_tenant_and_type_overrides_both_apply_the_stricter_wins() -> None:
    policy = RoutingPolicy(per_tenant={"lax-co": 0.95}, per_message_type={"command": 0.6})
    assert policy.threshold_for("lax-co", "command") == 0.6
    assert policy.threshold_for("lax-co", "query") == 0.95


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_thresholds_outside_the_unit_interval_are_refused(bad: float) -> None:
    with pytest.raises(InvalidThreshold):
        RoutingPolicy(default=bad)
    with pytest.raises(InvalidThreshold, match="per_tenant"):
        RoutingPolicy(per_tenant={"acme": bad})


def test_the_model_routes_with_the_threshold_it_is_given() -> None:
    model = ImpactModel()
    policy = RoutingPolicy(per_tenant={"strict-co": 0.25})  # the prior gives 0.29
    action = ScoringInput("strict-co", "a1", "command", "normal", "transfer the funds now")
    features = extract_features(action)
    lenient = model.score(features)
    strict = model.score(features, threshold=policy.threshold_for(action.tenant_id, action.message_type))
    assert lenient.score == strict.score
    assert (lenient.route, strict.route) == ("auto", "deliberation")
