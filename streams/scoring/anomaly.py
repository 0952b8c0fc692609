"""Per-agent anomaly detection and model-error drift detection.

- `AgentAnomalyDetector`: one small river `HalfSpaceTrees` per agent over the agent's rate,
  content size and payload amount (features already scaled to [0, 1] by `features.py`, which
  is what HST's default limits assume). NOTES: HST defaults cost ~28 µs per event and 25 trees
  of height 15 ~1.2 ms; 4 trees of height 4 score + learn in ~5 µs here. On a steady agent
  they score p99 ~0.25 and a jump to high rate, size and amount ~0.95, so 0.8 is the default
  threshold.
- `DriftMonitor`: river `ADWIN` over the model's prequential error against human decisions.

Both only *report*; what to do with a report (emit an event, lower a threshold, retrain) is
the stream processor's decision.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from river import anomaly, drift

ANOMALY_FEATURES: Final = ("rate", "size", "amount_log")
"""Features (from `extract_features`) that describe an agent's behaviour, all in [0, 1]."""


@dataclass(frozen=True, slots=True)
class AnomalyDetected:
    """An agent's action scored above the anomaly threshold."""

    agent_id: str
    score: float
    threshold: float
    observed: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class AgentScore:
    """Anomaly score of one action (0.0 while the agent's first window fills) and the
    detection, if the score reached the threshold."""

    score: float
    anomaly: AnomalyDetected | None


@dataclass(frozen=True, slots=True)
class DriftDetected:
    """ADWIN found a change in the model's error rate against human decisions."""

    errors_seen: int
    mean_error: float
    window: int


class AgentAnomalyDetector:
    """Per-agent Half-Space Trees, at most `max_agents` of them (least recently seen evicted).

    `observe` scores an action against the agent's history *then* learns it, so an action is
    never compared with itself. An agent's first `window_size` actions only train (score 0.0).
    Memory: about 7 KB per agent with the defaults (pickled size).
    """

    def __init__(
        self,
        threshold: float = 0.8,
        *,
        n_trees: int = 4,
        height: int = 4,
        window_size: int = 50,
        max_agents: int = 1000,
        seed: int = 42,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold: got {threshold!r}, want a number in [0, 1]")
        if n_trees < 1 or height < 1 or window_size < 1 or max_agents < 1:
            raise ValueError(
                f"AgentAnomalyDetector: got n_trees={n_trees}, height={height}, "
                f"window_size={window_size}, max_agents={max_agents}; want all >= 1"
            )
        self.threshold = threshold
        self._n_trees = n_trees
        self._height = height
        self._window_size = window_size
        self._max_agents = max_agents
        self._seed = seed
        self._detectors: OrderedDict[str, anomaly.HalfSpaceTrees] = OrderedDict()

    def _detector(self, agent_id: str) -> anomaly.HalfSpaceTrees:
        detector = self._detectors.get(agent_id)
        if detector is None:
            detector = anomaly.HalfSpaceTrees(
                n_trees=self._n_trees,
                height=self._height,
                window_size=self._window_size,
                seed=self._seed,
            )
            self._detectors[agent_id] = detector
            if len(self._detectors) > self._max_agents:
                self._detectors.popitem(last=False)
        else:
            self._detectors.move_to_end(agent_id)
        return detector

    def observe(self, agent_id: str, features: Mapping[str, float]) -> AgentScore:
        """Score this action of `agent_id`, learn it, and report it if anomalous."""
        x = {name: features.get(name, 0.0) for name in ANOMALY_FEATURES}
        detector = self._detector(agent_id)
        score = float(detector.score_one(x))  # type: ignore[no-untyped-call]  # river is untyped here
        detector.learn_one(x)  # type: ignore[no-untyped-call]
        if score < self.threshold:
            return AgentScore(score, None)
        return AgentScore(score, AnomalyDetected(agent_id, score, self.threshold, tuple(x.items())))

    def __len__(self) -> int:
        return len(self._detectors)


class DriftMonitor:
    """ADWIN over a stream of errors in [0, 1] (e.g. |label - predicted probability|)."""

    def __init__(self, delta: float = 0.002) -> None:
        self._adwin = drift.ADWIN(delta=delta)  # type: ignore[no-untyped-call]
        self._seen = 0

    def update(self, error: float) -> DriftDetected | None:
        """Add one error; return `DriftDetected` if ADWIN finds a change at this point."""
        self._adwin.update(error)  # type: ignore[no-untyped-call]
        self._seen += 1
        if not self._adwin.drift_detected:
            return None
        return DriftDetected(
            errors_seen=self._seen,
            mean_error=float(self._adwin.estimation),
            window=int(self._adwin.width),
        )
