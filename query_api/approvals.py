"""Read routes of approvals (from the ``approvals`` projection) and of notification delivery."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from psycopg.rows import dict_row

router = APIRouter(prefix="/api/v1", tags=["approvals"])
Status = Literal["pending", "escalated", "approved", "rejected", "expired"]


def _not_found(approval_id: uuid.UUID) -> HTTPException:
    return HTTPException(404, detail={"code": "approval_not_found", "message": f"no approval request {approval_id}"})


async def _state(request: Request, approval_id: uuid.UUID) -> dict:
    async with request.app.state.pool.connection() as conn:
        row = await (await conn.execute("SELECT state FROM approvals WHERE approval_id = %s",
                                        (str(approval_id),))).fetchone()
    if row is None:
        raise _not_found(approval_id)
    return row[0]


@router.get("/approvals")
async def list_approvals(request: Request, status: Status | None = None,
                         tenant: Annotated[str | None, Query(max_length=64)] = None,
                         approver: Annotated[str | None, Query(max_length=256)] = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 50,
                         offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    """Approval requests, newest first; filter by status, tenant and approver; paged by offset."""
    where, args = [], []
    if status:
        where.append("status = %s")
        args.append(status)
    if tenant:
        where.append("tenant_id = %s")
        args.append(tenant.strip().lower())
    if approver:
        where.append("approvers @> ARRAY[%s]::text[]")
        args.append(approver)
    sql = "SELECT state FROM approvals" + (" WHERE " + " AND ".join(where) if where else "")
    async with request.app.state.pool.connection() as conn:
        rows = await (await conn.execute(sql + " ORDER BY created_at DESC, approval_id LIMIT %s OFFSET %s",
                                         (*args, limit + 1, offset))).fetchall()
    items = [r[0] for r in rows[:limit]]
    return {"approvals": items, "offset": offset, "limit": limit,
            "next_offset": offset + limit if len(rows) > limit else None}


@router.get("/approvals/{approval_id}")
async def get_approval(request: Request, approval_id: uuid.UUID) -> dict:
    """One approval request: approvers (delegations applied), votes, level, deadline, outcome."""
    return await _state(request, approval_id)


@router.get("/approvals/{approval_id}/status")
async def get_approval_status(request: Request, approval_id: uuid.UUID) -> dict:
    state = await _state(request, approval_id)
    return {k: state.get(k) for k in ("approval_id", "status", "reason", "level", "deadline", "version")}


@router.get("/notifications/jobs/{job_id}")
async def get_notification_job(request: Request, job_id: int) -> dict:
    async with request.app.state.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT id, tenant_id, channel, event, status, attempts, last_error, created_at, "
                          "delivered_at FROM notification_jobs WHERE id = %s", (job_id,))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, detail={"code": "job_not_found", "message": f"no notification job {job_id}"})
    return row


@router.get("/notifications/dead-letters")
async def notification_dead_letters(request: Request, tenant: str | None = None,
                                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict:
    """Notifications that failed after their last retry."""
    sql = "SELECT job_id, tenant_id, channel, event, attempts, error, failed_at FROM notification_dead_letters"
    args: tuple = ()
    if tenant:
        sql += " WHERE tenant_id = %s"
        args = (tenant.strip().lower(),)
    async with request.app.state.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sql + " ORDER BY failed_at DESC LIMIT %s", (*args, limit))
        return {"dead_letters": await cur.fetchall()}
