"""HTTP routes of the write side: parse, call the service, return the answer model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from commands import rules
from commands.ids import new_id
from commands.intake import MessageIntake
from commands.models import (ErrorResponse, RegisterAgentAccepted, RegisterAgentRequest, SendMessageAccepted,
                             SendMessageRequest, ValidateRequest, ValidateResponse)

router = APIRouter(prefix="/api/v1", tags=["commands"])

_ERRORS = {
    400: {"model": ErrorResponse, "description": "malformed JSON"},
    403: {"model": ErrorResponse, "description": "constitutional hash mismatch or cross-tenant send"},
    413: {"model": ErrorResponse, "description": "body or content too large"},
    422: {"model": ErrorResponse, "description": "invalid fields"},
    503: {"model": ErrorResponse, "description": "Kafka did not acknowledge; retry after Retry-After seconds"},
}


async def get_intake(request: Request) -> MessageIntake:
    return request.app.state.intake


async def correlation_id(request: Request) -> str:
    return request.headers.get("x-correlation-id") or new_id()


@router.post("/messages/send", status_code=202, response_model=SendMessageAccepted, responses=_ERRORS)
async def send_message(body: SendMessageRequest, intake: Annotated[MessageIntake, Depends(get_intake)],
                       corr: Annotated[str, Depends(correlation_id)]) -> JSONResponse:
    """Append an agent message to ``acgs.commands``; answers once Kafka has acknowledged it (acks=all).

    In the gateway this path is answered by ``commands.hot_route.HotSendRoute`` before FastAPI routes it; this
    route describes it in OpenAPI and serves it wherever the router is mounted without that middleware.
    """
    answer = await intake.send(body, corr)
    return JSONResponse(answer, status_code=202)


@router.post("/agents/register", status_code=202, response_model=RegisterAgentAccepted,
             responses={**_ERRORS, 403: {"model": ErrorResponse, "description": "constitutional hash mismatch"},
                        409: {"model": ErrorResponse, "description": "the agent belongs to another tenant"}})
async def register_agent(body: RegisterAgentRequest, intake: Annotated[MessageIntake, Depends(get_intake)],
                         corr: Annotated[str, Depends(correlation_id)]) -> JSONResponse:
    """Append a RegisterAgent command to ``acgs.commands``: bind an agent id to a tenant before it sends or
    receives anything. Answers once Kafka has acknowledged it; the gate then binds it (first binding wins,
    whether by registration or by a first accepted message) and ``GET /api/v1/commands/{command_id}`` moves
    to ``registered``, or to ``rejected`` with ``code: agent_tenant_conflict``."""
    answer = await intake.register(body, corr)
    return JSONResponse(answer, status_code=202)


@router.post("/constitutional/validate", response_model=ValidateResponse)
async def validate(body: ValidateRequest, intake: Annotated[MessageIntake, Depends(get_intake)]) -> ValidateResponse:
    """Check a constitutional hash (and a tenant id, when given) without changing any state."""
    errors = []
    if violation := rules.check_constitutional_hash(body.constitutional_hash, intake.constitutional_hash):
        errors.append({"code": violation.code, "message": violation.reason})
    extra = body.model_extra or {}
    if "tenant_id" in extra and (violation := rules.check_tenant_id(str(extra["tenant_id"]))):
        errors.append({"code": violation.code, "message": violation.reason})
    return ValidateResponse(valid=not errors, errors=errors)
