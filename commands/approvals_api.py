"""HTTP routes of the approvals write side: open a request, approve, reject, delegate."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from commands.api import correlation_id
from commands.approval_service import ApprovalCommands
from commands.models import ErrorResponse

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"])
_ERRORS = {403: {"model": ErrorResponse, "description": "not an approver (or delegate) of this request"},
           404: {"model": ErrorResponse, "description": "unknown approval request"},
           409: {"model": ErrorResponse, "description": "already voted, or the request is closed"},
           422: {"model": ErrorResponse, "description": "invalid request"},
           504: {"model": ErrorResponse, "description": "appended, but the writer did not answer in time"}}


class ApproverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    weight: float = Field(1.0, gt=0)


class ApprovalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=1000)
    description: str = Field("", max_length=20000)
    tenant_id: str = Field(min_length=1, max_length=256)
    requested_by: str = Field(min_length=1, max_length=256)
    approvers: list[ApproverIn] = Field(min_length=1, max_length=100)
    policy: Literal["single", "quorum", "supermajority", "unanimous"] = "single"
    sla_seconds: float | None = Field(None, gt=0)
    escalation: list[list[ApproverIn]] = Field(default_factory=list, max_length=10)


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver_id: str = Field(min_length=1, max_length=256)
    rationale: str | None = Field(None, max_length=5000)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver_id: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=5000)


class DelegateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver_id: str = Field(min_length=1, max_length=256)
    to: str = Field(min_length=1, max_length=256)


class ApprovalCreated(BaseModel):
    approval_id: str
    status: str


async def get_commands(request: Request) -> ApprovalCommands:
    return request.app.state.approval_commands


Commands = Annotated[ApprovalCommands, Depends(get_commands)]
Correlation = Annotated[str, Depends(correlation_id)]


@router.post("", status_code=201, response_model=ApprovalCreated, responses=_ERRORS)
async def create_approval(body: ApprovalCreate, commands: Commands, corr: Correlation) -> JSONResponse:
    """Open an approval request; answers once its writer has recorded it."""
    approval_id = str(uuid.uuid4())
    args = body.model_dump(exclude={"escalation"})
    args["escalation"] = [{"approvers": [a.model_dump() for a in level], "sla_seconds": body.sla_seconds}
                          for level in body.escalation]
    state = await commands.submit("request", approval_id, body.tenant_id.strip().lower(), args, corr)
    return JSONResponse({"approval_id": state["approval_id"], "status": state["status"]}, status_code=201)


@router.post("/{approval_id}/approve", responses=_ERRORS)
async def approve(approval_id: uuid.UUID, body: ApproveBody, commands: Commands, corr: Correlation) -> dict:
    """Vote to approve; the answer is the request's state after the vote."""
    return await commands.submit("vote", str(approval_id), None, {"approver_id": body.approver_id,
                                                                 "decision": "approve",
                                                                 "reason": body.rationale or ""}, corr)


@router.post("/{approval_id}/reject", responses=_ERRORS)
async def reject(approval_id: uuid.UUID, body: RejectBody, commands: Commands, corr: Correlation) -> dict:
    """Vote to reject (a reason is required)."""
    return await commands.submit("vote", str(approval_id), None, {"approver_id": body.approver_id,
                                                                 "decision": "reject", "reason": body.reason}, corr)


@router.post("/{approval_id}/delegate", responses=_ERRORS)
async def delegate(approval_id: uuid.UUID, body: DelegateBody, commands: Commands, corr: Correlation) -> dict:
    """Hand the approver's seats to another person (recorded as an event)."""
    return await commands.submit("delegate", str(approval_id), None, {"approver_id": body.approver_id,
                                                                     "to": body.to}, corr)
