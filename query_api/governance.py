"""Governance read routes: score an action without submitting it, and impact metrics.

The gateway scores with the newest model checkpoint (re-read when its version changes), the same model the
stream worker scores with, so ``evaluate`` shows what the gate would decide.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from commands import rules
from commands.models import MessageType, Priority
from streams.governance.stage import explanation_wire, scoring_input
from streams.scoring import ImpactModel, RoutingPolicy, extract_features

router = APIRouter(prefix="/api/v1", tags=["governance"])


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str = Field(min_length=1, max_length=256)
    from_agent: str = Field("evaluator", min_length=1, max_length=128)
    to_agent: str | None = None
    message_type: MessageType = MessageType.command
    priority: Priority = Priority.normal
    content: str = Field("", max_length=1024 * 1024)
    payload: dict[str, Any] | None = None


class ModelReader:
    """The newest checkpointed impact model (a fresh prior-only model before the first checkpoint)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._model = ImpactModel()
        self._version: int | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> tuple[ImpactModel, dict[str, Any]]:
        async with self._pool.connection() as conn:
            row = await (await conn.execute("SELECT version, quality FROM impact_model_checkpoints "
                                            "ORDER BY version DESC LIMIT 1")).fetchone()
            if row is None:
                return self._model, self._model.quality()
            if row[0] != self._version:
                async with self._lock:
                    state = await (await conn.execute("SELECT state FROM impact_model_checkpoints WHERE version = %s",
                                                      (row[0],))).fetchone()
                    if state is not None:
                        self._model, self._version = ImpactModel.restore(bytes(state[0])), row[0]
        return self._model, row[1]


@router.post("/governance/evaluate")
async def evaluate(request: Request, body: EvaluateRequest) -> dict:
    """Score an action as the gate would, without submitting it: {score, route, explanation, model_version}."""
    tenant = rules.normalize_tenant_id(body.tenant_id)
    policy: RoutingPolicy = request.app.state.routing_policy
    model, _ = await request.app.state.model_reader.current()
    record = {"tenant_id": tenant, "from_agent": body.from_agent, "message_type": body.message_type.value,
              "priority": body.priority.value, "content": body.content, "payload": body.payload}
    features = extract_features(scoring_input(record))
    threshold = policy.threshold_for(tenant, body.message_type.value)
    scored = model.score(features, threshold=threshold)
    return {"score": scored.score, "route": scored.route, "threshold": threshold,
            "explanation": explanation_wire(scored.explanation), "model_version": scored.model_version,
            "prior": scored.prior, "model_weight": scored.model_weight}


@router.get("/metrics/impact")
async def impact_metrics(request: Request) -> dict:
    """Score distribution, routed counts, approval rates, model version and rolling quality vs humans."""
    _, quality = await request.app.state.model_reader.current()
    async with request.app.state.pool.connection() as conn:
        buckets = await (await conn.execute(
            "SELECT LEAST(floor(impact_score * 10)::int, 9) AS b, count(*) FROM governance_decisions "
            "WHERE kind = 'routed' GROUP BY b ORDER BY b")).fetchall()
        routed = dict(await (await conn.execute(
            "SELECT route, count(*) FROM governance_decisions WHERE kind = 'routed' GROUP BY route")).fetchall())
        outcomes = dict(await (await conn.execute(
            "SELECT outcome, count(*) FROM governance_decisions WHERE kind = 'outcome' GROUP BY outcome")).fetchall())
        approvals = dict(await (await conn.execute(
            "SELECT status, count(*) FROM approvals GROUP BY status")).fetchall())
    counts = dict(buckets)
    decided = outcomes.get("approved", 0) + outcomes.get("rejected", 0)
    closed = sum(approvals.get(s, 0) for s in ("approved", "rejected", "expired"))
    return {
        "model_version": quality.get("model_version"),
        "model_quality": quality,
        "score_distribution": [{"bucket": f"{b / 10:.1f}-{(b + 1) / 10:.1f}", "count": counts.get(b, 0)}
                               for b in range(10)],
        "routed": {"auto": routed.get("auto", 0), "deliberation": routed.get("deliberation", 0)},
        "deliberation_outcomes": {"approved": outcomes.get("approved", 0), "rejected": outcomes.get("rejected", 0),
                                  "approval_rate": outcomes.get("approved", 0) / decided if decided else None},
        "approvals": {**{s: approvals.get(s, 0) for s in ("pending", "escalated", "approved", "rejected",
                                                          "expired")},
                      "approval_rate": approvals.get("approved", 0) / closed if closed else None},
    }
