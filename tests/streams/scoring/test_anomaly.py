"""Per-agent anomaly detection (Half-Space Trees) and error drift (ADWIN)."""

from __future__ import annotations

import random

import pytest

from streams.scoring.anomaly import AgentAnomalyDetector, DriftMonitor


def steady(rng: random.Random) -> dict[str, float]:
    return {"rate": 0.2 + rng.random() * 0.05, "size": 0.35 + rng.random() * 0.05, "amount_log": 0.2}


BURST = {"rate": 0.95, "size": 0.9, "amount_log": 0.95}


def test_an_agent_scores_zero_while_its_first_window_fills() -> None:
    detector = AgentAnomalyDetector(window_size=50)
    rng = random.Random(1)
    assert all(detector.observe("a", steady(rng)).score == 0.0 for _ in range(50))


def test_a_sudden_burst_after_steady_behaviour_is_detected() -> None:
    detector = AgentAnomalyDetector()
    rng = random.Random(2)
    steady_scores = [detector.observe("a", steady(rng)).score for _ in range(300)][60:]
    result = detector.observe("a", BURST)
    assert max(steady_scores) < detector.threshold
    assert result.anomaly is not None
    assert result.anomaly.agent_id == "a"
    assert result.anomaly.score == result.score >= detector.threshold
    assert dict(result.anomaly.observed) == BURST


def test_agents_are_judged_against_their_own_history() -> None:
    detector = AgentAnomalyDetector()
    rng = random.Random(3)
    for _ in range(200):
        detector.observe("quiet", steady(rng))
        detector.observe("busy", BURST)
    assert detector.observe("busy", BURST).anomaly is None
    assert detector.observe("quiet", BURST).anomaly is not None


def test_the_number_of_agents_tracked_is_bounded() -> None:
    detector = AgentAnomalyDetector(max_agents=3)
    for i in range(10):
        detector.observe(f"agent-{i}", BURST)
    assert len(detector) == 3


def test_a_threshold_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="want a number in"):
        AgentAnomalyDetector(threshold=1.5)


def test_adwin_reports_a_jump_in_the_error_rate_and_nothing_on_a_steady_one() -> None:
    monitor = DriftMonitor()
    rng = random.Random(4)
    assert all(monitor.update(0.1 * rng.random()) is None for _ in range(500))
    reports = [monitor.update(0.8 + 0.2 * rng.random()) for _ in range(200)]
    found = [r for r in reports if r is not None]
    assert found
    assert found[0].errors_seen > 500
    assert found[0].mean_error > 0.1
