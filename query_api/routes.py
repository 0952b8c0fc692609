"""Read endpoints: command status (with read-your-writes wait), agent inboxes (cursor-paged long-poll) and
agent bindings."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request

from commands import rules
from commands.models import ErrorResponse
from projections.command_status import FINAL
from query_api.models import AgentBinding, AgentPage, CommandStatus, InboxMessage, InboxPage
from query_api.wakeups import wait_for

router = APIRouter(prefix="/api/v1", tags=["queries"])
_NOT_FOUND = {404: {"model": ErrorResponse, "description": "unknown command id"}}


async def _status(request: Request, command_id: str) -> dict | None:
    """Final states come from Postgres (the truth) or its hot cache; ``accepted`` may be cache-only."""
    state = request.app.state
    cached = await state.statuses.get(command_id)
    if cached is not None and cached.get("status") in FINAL:
        return cached
    row = await state.read_model.command_status(command_id)
    return row or cached


@router.get("/commands/{command_id}", response_model=CommandStatus, response_model_exclude_none=True,
            responses=_NOT_FOUND)
async def get_command(request: Request, command_id: str,
                      wait_ms: Annotated[int, Query(ge=0, le=30000)] = 0) -> dict:
    """A command's status: ``accepted`` → ``delivered`` | ``rejected`` (a registration: ``registered`` |
    ``rejected``); ``wait_ms`` waits for a final one."""
    if wait_ms:
        async def final() -> dict | None:
            found = await _status(request, command_id)
            return found if found and found.get("status") in FINAL else None

        status = await wait_for(request.app.state.wakeups, f"cmd:{command_id}", wait_ms / 1000, final)
        status = status or await _status(request, command_id)
    else:
        status = await _status(request, command_id)
    if status is None:
        raise HTTPException(404, detail={"code": "command_not_found", "message": f"no command {command_id}"})
    return status


def _tenant(tenant_id: str) -> str:
    """The normalised tenant id of a query, or a 422 naming the rule."""
    tenant = rules.normalize_tenant_id(tenant_id)
    if violation := rules.check_tenant_id(tenant):
        raise HTTPException(422, detail={"code": violation.code, "message": violation.reason})
    return tenant


def _message(row: dict) -> InboxMessage:
    payload = orjson.loads(row["payload_json"]) if row["payload_json"] else None
    return InboxMessage(message_id=row["message_id"], command_id=row["command_id"], tenant_id=row["tenant_id"],
                        from_agent=row["from_agent"], to_agent=row["agent_id"], message_type=row["message_type"],
                        priority=row["priority"], content=row["content"], payload=payload,
                        conversation_id=row["conversation_id"], issued_at=row["issued_at"],
                        delivered_at=row["delivered_at"], cursor=str(row["msg_offset"]))


@router.get("/messages/receive", response_model=InboxPage)
async def receive(request: Request, agent_id: Annotated[str, Query(min_length=1, max_length=128)],
                  tenant_id: Annotated[str, Query(min_length=1, max_length=256)],
                  after: Annotated[str | None, Query(pattern=r"^-?[0-9]{1,19}$")] = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  wait_ms: Annotated[int, Query(ge=0, le=30000)] = 0) -> InboxPage:
    """The agent's delivered messages, oldest first, after the ``after`` cursor; long-polls when empty."""
    tenant = _tenant(tenant_id)
    start = int(after) if after is not None else -1
    read_model = request.app.state.read_model

    async def page() -> list[dict]:
        return await read_model.inbox(tenant, agent_id, start, limit)

    if wait_ms:
        rows = await wait_for(request.app.state.wakeups, f"inbox:{tenant}:{agent_id}", wait_ms / 1000, page)
    else:
        rows = await page()
    messages = [_message(r) for r in rows]
    next_cursor = messages[-1].cursor if messages else after
    return InboxPage(agent_id=agent_id, tenant_id=tenant, messages=messages, next=next_cursor)


@router.get("/agents", response_model=AgentPage)
async def list_agents(request: Request, tenant_id: Annotated[str, Query(min_length=1, max_length=256)],
                      after: Annotated[str, Query(max_length=128)] = "",
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> AgentPage:
    """The tenant's agents (bound by registration or first accepted message), in agent id order, paged:
    ``next`` is the ``after`` of the following page, null on the last one."""
    tenant = _tenant(tenant_id)
    rows = await request.app.state.read_model.tenant_agents(tenant, after, limit)
    agents = [AgentBinding(**row) for row in rows]
    return AgentPage(tenant_id=tenant, agents=agents, next=agents[-1].agent_id if len(agents) == limit else None)


@router.get("/agents/{agent_id}", response_model=AgentBinding,
            responses={404: {"model": ErrorResponse, "description": "no such agent in this tenant"}})
async def get_agent(request: Request, agent_id: Annotated[str, Path(min_length=1, max_length=128)],
                    tenant_id: Annotated[str, Query(min_length=1, max_length=256)]) -> AgentBinding:
    """The agent's binding to ``tenant_id``, by registration or first accepted message.

    An agent of another tenant answers 404 like an unknown one: a tenant learns nothing of the others.
    """
    tenant = _tenant(tenant_id)
    found = await request.app.state.read_model.agent_tenant(agent_id)
    if found is None or found["tenant_id"] != tenant:
        raise HTTPException(404, detail={"code": "agent_not_found", "message": f"no agent {agent_id} in {tenant}"})
    return AgentBinding(**found)
