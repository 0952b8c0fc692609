"""Audit log endpoints: leaves, inclusion and consistency proofs, checkpoints, anchors, verification.

Thin: parse, call ``AuditService`` in a thread (its work is blocking), shape the answer. Hashes are lowercase hex.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from commands.models import ErrorResponse
from query_api.audit_models import (
    AnchorsPublic,
    CheckpointPublic,
    ConsistencyProofPublic,
    InclusionProofPublic,
    LeafPage,
    LeafPublic,
    VerificationPublic,
    VerifyRequest,
)
from query_api.audit_service import AuditService
from query_api.exceptions import QueryError
from streams.audit.verification import Verification

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
T = TypeVar("T")
_ERRORS = {code: {"model": ErrorResponse} for code in (404, 409, 422, 503)}


async def _call(request: Request, action: Callable[[AuditService], T]) -> T:
    service: AuditService = request.app.state.audit
    try:
        return await asyncio.to_thread(action, service)
    except QueryError as exc:
        raise HTTPException(exc.status, detail={"code": exc.code, "message": exc.message}) from None


@router.get("/logs", response_model=LeafPage, responses=_ERRORS)
async def list_leaves(request: Request,
                      tenant_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                      event_type: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
                      from_time: Annotated[int | None, Query(ge=0, description="recorded_at >= (unix ms)")] = None,
                      to_time: Annotated[int | None, Query(ge=0, description="recorded_at < (unix ms)")] = None,
                      after: Annotated[int, Query(ge=-1, description="leaf index cursor (exclusive)")] = -1,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    """Leaves in log order, filtered by tenant, event type (Avro record name) and time range, cursor-paged."""
    if from_time is not None and to_time is not None and from_time > to_time:
        raise HTTPException(422, detail={"code": "invalid_time_range", "message": "from_time is after to_time"})
    tenant = tenant_id.strip().lower() if tenant_id is not None else None
    return await _call(request, lambda s: s.leaves(tenant, event_type, from_time, to_time, after, limit))


@router.get("/logs/{leaf_index}", response_model=LeafPublic, responses=_ERRORS)
async def get_leaf(request: Request, leaf_index: Annotated[int, Path(ge=0)]) -> dict:
    return await _call(request, lambda s: s.leaf(leaf_index))


@router.get("/proof/inclusion", response_model=InclusionProofPublic, responses=_ERRORS)
async def inclusion_proof(request: Request, leaf_index: Annotated[int, Query(ge=0)],
                          tree_size: Annotated[int | None, Query(ge=1, description="default: latest checkpoint")] = None
                          ) -> dict:
    """RFC 6962 audit path of a leaf; verify it against a signed checkpoint of ``tree_size``."""
    return await _call(request, lambda s: s.inclusion(leaf_index, tree_size))


@router.get("/proof/consistency", response_model=ConsistencyProofPublic, responses=_ERRORS)
async def consistency_proof(request: Request, first: Annotated[int, Query(ge=1)],
                            second: Annotated[int | None, Query(ge=1, description="default: latest checkpoint")] = None
                            ) -> dict:
    """RFC 6962 consistency proof that the tree of ``first`` leaves is a prefix of the one of ``second``."""
    return await _call(request, lambda s: s.consistency(first, second))


@router.get("/checkpoints/latest", response_model=CheckpointPublic, responses=_ERRORS)
async def latest_checkpoint(request: Request) -> dict:
    """The newest signed checkpoint (C2SP signed note) and the verifier key to check it with."""
    return await _call(request, lambda s: s.latest_checkpoint())


@router.post("/checkpoints", response_model=CheckpointPublic, status_code=201, responses=_ERRORS)
async def seal_checkpoint(request: Request, response: Response) -> dict:
    """Seal a checkpoint now (201), or return the latest one if it already covers the whole log (200)."""
    checkpoint, created = await _call(request, lambda s: s.seal())
    if not created:
        response.status_code = 200
    return checkpoint


@router.get("/anchors", response_model=AnchorsPublic)
async def list_anchors(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    """Anchored checkpoints, newest first, with what an outsider needs to check them: chain id, RPC, contract."""
    return await _call(request, lambda s: s.anchors(limit))


@router.post("/verify", response_model=VerificationPublic, responses=_ERRORS)
async def verify(request: Request, body: VerifyRequest) -> dict:
    """Verify one event (by ``event_id`` or ``leaf_index``) step by step, or the whole stored log."""
    if body.scope == "log":
        report = await _call(request, lambda s: s.verify_log())
    else:
        report = await _call(request, lambda s: s.verify(body.event_id, body.leaf_index, body.tree_size))
    return _report(report)


def _report(report: Verification) -> dict:
    leaf, cp = report.leaf, report.checkpoint
    return {"verified": report.verified, "failed_step": report.failed_step,
            "leaf_index": leaf.leaf_index if leaf else None, "event_id": leaf.event_id if leaf else None,
            "tree_size": cp.tree_size if cp else None, "root_hash": cp.root_hash.hex() if cp else None,
            "anchored": report.anchored,
            "steps": [{"name": s.name, "status": s.status, "detail": s.detail, "got": s.got, "want": s.want}
                      for s in report.steps]}
