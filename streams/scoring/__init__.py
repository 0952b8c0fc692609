"""Impact scoring: the pure domain core of deliberation routing (no Kafka, no I/O).

Per event, a stream processor owns one `SenderVolume`, one `AgentAnomalyDetector` and one
`ImpactModel` (checkpointed with `ImpactModel.checkpoint()`), and does:

    features = extract_features(action, volume, now=event_time)
    observed = detector.observe(action.from_agent, features)  # -> AgentScore
    features["drift"] = observed.score                          # the prior's drift component
    scored = model.score(features, threshold=policy.threshold_for(action.tenant_id,
                                                                   action.message_type))
    # scored.route == "deliberation" -> open an approval request (commands.approvals)

and, when a human decides a deliberated action, `model.learn(features, approved)` (keep the
features with the request, or recompute them from the stored action).
"""

from streams.scoring.anomaly import (
    ANOMALY_FEATURES,
    AgentAnomalyDetector,
    AgentScore,
    AnomalyDetected,
    DriftDetected,
    DriftMonitor,
)
from streams.scoring.exceptions import InvalidCheckpoint, InvalidThreshold, ScoringError
from streams.scoring.features import (
    COMPONENTS,
    PII_KINDS,
    ScoringInput,
    SenderVolume,
    detect_pii,
    extract_features,
    iban_valid,
    luhn_valid,
)
from streams.scoring.model import (
    AUTO,
    DEFAULT_THRESHOLD,
    DELIBERATION,
    ImpactModel,
    Learned,
    Route,
    RoutingPolicy,
    Scored,
    route,
)
from streams.scoring.prior import CRITICAL_FLOOR, WEIGHTS, PriorScore, prior_score

__all__ = [
    "ANOMALY_FEATURES",
    "AUTO",
    "COMPONENTS",
    "CRITICAL_FLOOR",
    "DEFAULT_THRESHOLD",
    "DELIBERATION",
    "PII_KINDS",
    "WEIGHTS",
    "AgentAnomalyDetector",
    "AgentScore",
    "AnomalyDetected",
    "DriftDetected",
    "DriftMonitor",
    "ImpactModel",
    "InvalidCheckpoint",
    "InvalidThreshold",
    "Learned",
    "PriorScore",
    "Route",
    "RoutingPolicy",
    "Scored",
    "ScoringError",
    "ScoringInput",
    "SenderVolume",
    "detect_pii",
    "extract_features",
    "iban_valid",
    "luhn_valid",
    "prior_score",
    "route",
]
