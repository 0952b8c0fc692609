"""Who reviews a deliberated command: the tenant's configured reviewers and policy, else anyone (single)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReviewPlan:
    approvers: tuple[dict[str, Any], ...]
    policy: str
    sla_seconds: float | None
    escalation: tuple[tuple[dict[str, Any], ...], ...]
    open_to_any: bool


def plan_for(tenant_id: str, configured: Mapping[str, Mapping[str, Any]], default_sla: float | None) -> ReviewPlan:
    """The review plan of ``tenant_id``; without configured approvers: policy single, open to any approver."""
    config = configured.get(tenant_id) or {}
    approvers = tuple(dict(a) for a in config.get("approvers", ()))
    if not approvers:
        return ReviewPlan((), "single", config.get("sla_seconds", default_sla), (), True)
    escalation = tuple(tuple(dict(a) for a in level) for level in config.get("escalation", ()))
    return ReviewPlan(approvers, config.get("policy", "single"), config.get("sla_seconds", default_sla),
                      escalation, False)
