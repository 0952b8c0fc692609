"""The scoring stage of the gate: every accepted command gets an impact score, an explanation and a route.

Framework-free and synchronous on the hot path (features + anomaly detector + model score + one Avro
encode; see ``bench/governance_bench.py``). A command routed to deliberation is *held*: instead of its
delivery the stage emits a request to open an approval (``approval.commands``), carrying the delivery the
gate would have made, so the approvals writer can release exactly that record once humans approve.

Every output id is deterministic from the command id, so a replayed command yields identical records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from commands.approvals import request_id_for
from commands.ids import derived_id
from commands.intake import IDEMPOTENCY_NAMESPACE, now_ms
from schemas.codec import AvroCodec, encode_with
from schemas.topics import APPROVAL_COMMANDS, GOVERNANCE_ANOMALIES, GOVERNANCE_DECISIONS
from streams.governance.reviewers import plan_for
from streams.scoring import (
    DELIBERATION,
    AgentAnomalyDetector,
    ImpactModel,
    RoutingPolicy,
    Scored,
    ScoringInput,
    SenderVolume,
    extract_features,
)

KIND_HEADER = "kind"
ROUTED = b"routed"
OUTCOME = b"outcome"


@dataclass(frozen=True)
class Staged:
    """Records the stage adds for one accepted command: (topic, key, record, extra headers)."""

    route: str
    records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]


def scoring_input(record: dict[str, Any]) -> ScoringInput:
    """The scorer's view of a command (or an evaluate request) in the shape of ``acgs.commands``."""
    payload = record.get("payload")
    if payload is None and record.get("payload_json"):
        try:
            payload = orjson.loads(record["payload_json"])
        except orjson.JSONDecodeError:
            payload = None
    if not isinstance(payload, dict):
        payload = None
    tool = None
    if payload is not None:
        for key in ("tool", "action"):
            if isinstance(payload.get(key), str):
                tool = payload[key]
                break
    return ScoringInput(record["tenant_id"], record["from_agent"], record["message_type"], record["priority"],
                        record.get("content") or "", payload, tool)


def decision_event_id(command_id: str, kind: str) -> str:
    return derived_id(IDEMPOTENCY_NAMESPACE, f"decision\x00{kind}\x00{command_id}")


def explanation_wire(explanation: tuple[tuple[str, float], ...]) -> list[dict[str, Any]]:
    return [{"feature": name, "contribution": float(value)} for name, value in explanation]


class GovernanceStage:
    """Scores and routes accepted commands; owns one model, volume window and anomaly detector."""

    def __init__(self, codec: AvroCodec, policy: RoutingPolicy, reviewers: dict[str, dict] | None = None,
                 default_sla_s: float | None = 3600.0, model: ImpactModel | None = None,
                 anomaly_threshold: float = 0.8) -> None:
        self.codec = codec
        self.policy = policy
        self.reviewers = reviewers or {}
        self.default_sla_s = default_sla_s
        self.model = model or ImpactModel()
        self.volume = SenderVolume()
        self.detector = AgentAnomalyDetector(threshold=anomaly_threshold)
        self._decisions = codec.registry.for_topic(GOVERNANCE_DECISIONS)

    def score(self, record: dict[str, Any], now: float | None = None) -> tuple[Scored, dict[str, float], float]:
        action = scoring_input(record)
        features = extract_features(action, self.volume, now=time.monotonic() if now is None else now)
        observed = self.detector.observe(action.from_agent, features)
        features["drift"] = observed.score
        threshold = self.policy.threshold_for(action.tenant_id, action.message_type)
        self._last_anomaly = observed.anomaly
        return self.model.score(features, threshold=threshold), features, threshold

    def stage(self, record: dict[str, Any], delivered: dict[str, Any], headers: list[tuple[str, bytes]]) -> Staged:
        """Score ``record``; for auto, the decision only; for deliberation, the decision and the hold."""
        scored, features, threshold = self.score(record)
        command_id = record["command_id"]
        held = scored.route == DELIBERATION
        approval_id = str(request_id_for(record["tenant_id"], command_id)) if held else None
        decision = {
            "event_id": decision_event_id(command_id, "routed"), "kind": "routed", "command_id": command_id,
            "tenant_id": record["tenant_id"], "message_type": record["message_type"],
            "impact_score": scored.score, "threshold": threshold, "route": scored.route,
            "model_version": scored.model_version, "explanation": explanation_wire(scored.explanation),
            "decided_at": delivered["delivered_at"], "approval_id": approval_id, "outcome": None,
            "outcome_reason": None, "features_json": orjson.dumps(features).decode() if held else None,
        }
        records = [(GOVERNANCE_DECISIONS, command_id.encode(), encode_with(self._decisions, decision),
                    [(KIND_HEADER, ROUTED)])]
        if held:
            records.append(self._hold(record, delivered, headers, decision, approval_id))
        if self._last_anomaly is not None:
            records.append(self._anomaly(record))
        return Staged(scored.route, records)

    def _hold(self, record: dict, delivered: dict, headers: list[tuple[str, bytes]], decision: dict,
              approval_id: str) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
        plan = plan_for(record["tenant_id"], self.reviewers, self.default_sla_s)
        body = {
            "subject": f"{record['message_type']} from {record['from_agent']} to {record['to_agent']} "
                       f"(impact {decision['impact_score']:.2f})",
            "description": record.get("content", "")[:2000], "tenant_id": record["tenant_id"],
            "requested_by": record["from_agent"], "approvers": list(plan.approvers), "policy": plan.policy,
            "sla_seconds": plan.sla_seconds,
            "escalation": [{"approvers": list(level), "sla_seconds": plan.sla_seconds} for level in plan.escalation],
            "command_id": record["command_id"], "impact_score": decision["impact_score"],
            "open_to_any": plan.open_to_any,
            "held": {"delivered": delivered, "headers": [[k, v.decode()] for k, v in headers],
                     "decision": {k: decision[k] for k in ("tenant_id", "message_type", "impact_score", "threshold",
                                                           "model_version", "explanation", "features_json")}},
        }
        command = {"request_id": derived_id(IDEMPOTENCY_NAMESPACE, f"hold\x00{record['command_id']}"),
                   "type": "request", "approval_id": approval_id, "tenant_id": record["tenant_id"],
                   "body_json": orjson.dumps(body).decode(), "issued_at": now_ms()}
        return (APPROVAL_COMMANDS, approval_id.encode(), self.codec.encode(APPROVAL_COMMANDS, command), [])

    def _anomaly(self, record: dict) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
        found = self._last_anomaly
        event = {"event_id": derived_id(IDEMPOTENCY_NAMESPACE, f"anomaly\x00{record['command_id']}"),
                 "kind": "anomaly", "subject": found.agent_id, "tenant_id": record["tenant_id"],
                 "command_id": record["command_id"], "score": found.score, "threshold": found.threshold,
                 "details_json": orjson.dumps(dict(found.observed)).decode(), "detected_at": now_ms()}
        return (GOVERNANCE_ANOMALIES, found.agent_id.encode(), self.codec.encode(GOVERNANCE_ANOMALIES, event), [])

    def drift_event(self, approval_id: str, drift: Any) -> tuple[str, bytes, bytes]:
        event = {"event_id": derived_id(IDEMPOTENCY_NAMESPACE, f"drift\x00{approval_id}"), "kind": "drift",
                 "subject": "impact-model", "tenant_id": None, "command_id": None, "score": drift.mean_error,
                 "threshold": 0.0, "details_json": orjson.dumps({"errors_seen": drift.errors_seen,
                                                                  "window": drift.window,
                                                                  "approval_id": approval_id}).decode(),
                 "detected_at": now_ms()}
        return (GOVERNANCE_ANOMALIES, b"impact-model", self.codec.encode(GOVERNANCE_ANOMALIES, event))
