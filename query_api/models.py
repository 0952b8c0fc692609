"""HTTP answer schemas of the read side."""

from __future__ import annotations

from pydantic import BaseModel


class CommandStatus(BaseModel):
    command_id: str
    status: str
    reason: str | None = None
    code: str | None = None
    rule: str | None = None
    tenant_id: str | None = None
    message_id: str | None = None
    agent_id: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    updated_at: int | None = None
    approval_id: str | None = None
    impact_score: float | None = None


class InboxMessage(BaseModel):
    message_id: str
    command_id: str
    tenant_id: str
    from_agent: str
    to_agent: str
    message_type: str
    priority: str
    content: str
    payload: dict | None = None
    conversation_id: str | None = None
    issued_at: int
    delivered_at: int
    cursor: str


class InboxPage(BaseModel):
    agent_id: str
    tenant_id: str
    messages: list[InboxMessage]
    next: str | None


class AgentBinding(BaseModel):
    agent_id: str
    tenant_id: str
    first_command_id: str  # the registration or message that first bound the agent to its tenant


class AgentPage(BaseModel):
    tenant_id: str
    agents: list[AgentBinding]
    next: str | None  # pass as ``after`` for the next page; null once a page comes back short
