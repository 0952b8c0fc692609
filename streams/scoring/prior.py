"""The rule-based cold-start prior: the scorer of the system we replace, as users know it.

    score = .3 semantic + .2 permission + .1 volume + .1 context + .1 drift
            + .1 priority + .1 message_type

over the component features of `features.py` (each in [0, 1], so the sum is too). A critical
priority floors the score at 0.9, whatever the other components say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from streams.scoring.features import COMPONENTS

WEIGHTS: Final[Mapping[str, float]] = {
    "semantic": 0.3,
    "permission": 0.2,
    "volume": 0.1,
    "context": 0.1,
    "drift": 0.1,
    "priority": 0.1,
    "message_type": 0.1,
}
CRITICAL_FLOOR: Final = 0.9
FLOOR_CONTRIBUTION: Final = "critical_floor"
"""Name under which the lift added by the critical floor appears in contributions."""

_WEIGHTED: Final = tuple((name, WEIGHTS[name]) for name in COMPONENTS)
assert abs(sum(WEIGHTS.values()) - 1.0) < 1e-12, "prior weights must sum to 1"


@dataclass(frozen=True, slots=True)
class PriorScore:
    """A prior score, the weighted sum before the critical floor, and how each component
    contributed to it (weight x value).

    With the critical floor applied, `contributions` ends with (`FLOOR_CONTRIBUTION`, lift),
    so the contributions always sum to `score`.
    """

    score: float
    raw: float
    contributions: tuple[tuple[str, float], ...]


def is_critical(features: Mapping[str, float]) -> bool:
    """True iff the action has critical priority (the 0.9 floor applies)."""
    return features.get("priority_critical", 0.0) >= 1.0


def apply_critical_floor(score: float, features: Mapping[str, float]) -> float:
    """`score` clipped to [0, 1], raised to `CRITICAL_FLOOR` for critical priority."""
    score = min(1.0, max(0.0, score))
    if is_critical(features) and score < CRITICAL_FLOOR:
        return CRITICAL_FLOOR
    return score


def prior_score(features: Mapping[str, float]) -> PriorScore:
    """Score `features` with the documented weights; missing components count as 0."""
    get = features.get
    contributions = tuple([(name, weight * get(name, 0.0)) for name, weight in _WEIGHTED])
    raw = sum([value for _, value in contributions])
    score = apply_critical_floor(raw, features)
    if score > raw:
        contributions += ((FLOOR_CONTRIBUTION, score - raw),)
    return PriorScore(score, raw, contributions)
