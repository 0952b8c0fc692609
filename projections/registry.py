"""The projections this platform runs, by name (the name is also their consumer group and offsets key)."""

from __future__ import annotations

from projections.approvals import ApprovalsProjection
from projections.base import OFFSETS_DDL, Projection
from projections.command_status import CommandStatusProjection
from projections.governance import GovernanceDecisionsProjection
from projections.inbox import InboxProjection

PROJECTIONS: dict[str, type[Projection]] = {
    InboxProjection.name: InboxProjection,
    CommandStatusProjection.name: CommandStatusProjection,
    ApprovalsProjection.name: ApprovalsProjection,
    GovernanceDecisionsProjection.name: GovernanceDecisionsProjection,
}


def all_ddl() -> str:
    return OFFSETS_DDL + "".join(p.ddl() + p.index_ddl() for p in (cls() for cls in PROJECTIONS.values()))
