"""HTTP schemas of the write side, split by intent (request, accepted answer, error)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from commands.rules import NUL_VIOLATION, contains_nul


class MessageType(StrEnum):
    command = "command"
    query = "query"
    response = "response"
    event = "event"
    notification = "notification"
    heartbeat = "heartbeat"
    governance_request = "governance_request"
    governance_response = "governance_response"
    constitutional_validation = "constitutional_validation"
    task_request = "task_request"
    task_response = "task_response"
    audit_log = "audit_log"


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    critical = "critical"


AgentId = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")


class _CommandRequest(BaseModel):
    """A command body: no U+0000 anywhere (the stream gate refuses it too, see ``commands.rules``; refusing it
    here keeps it out of the log)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise PydanticCustomError(NUL_VIOLATION.code, NUL_VIOLATION.reason)
        return value


class SendMessageRequest(_CommandRequest):
    """One agent message to append to the command log."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    from_agent: str = AgentId
    to_agent: str = AgentId
    tenant_id: str = Field(min_length=1, max_length=256)
    message_type: MessageType
    priority: Priority  # required, as the contract lists it; "medium" is read as normal
    content: str
    payload: dict[str, Any] | None = None
    constitutional_hash: str | None = Field(None, max_length=256)
    conversation_id: str | None = Field(None, max_length=128)
    idempotency_key: str | None = Field(None, min_length=1, max_length=256)

    @field_validator("priority", mode="before")
    @classmethod
    def _alias_medium(cls, value: Any) -> Any:
        return "normal" if value == "medium" else value


class SendMessageAccepted(BaseModel):
    command_id: str
    message_id: str
    status: Literal["accepted"] = "accepted"
    topic: str
    partition: int
    offset: int


class RegisterAgentRequest(_CommandRequest):
    """Bind one agent id to one tenant before it sends or receives anything."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = AgentId
    tenant_id: str = Field(min_length=1, max_length=256)
    constitutional_hash: str | None = Field(None, max_length=256)
    idempotency_key: str | None = Field(None, min_length=1, max_length=256)


class RegisterAgentAccepted(BaseModel):
    command_id: str
    agent_id: str
    tenant_id: str
    status: Literal["accepted"] = "accepted"
    topic: str
    partition: int
    offset: int


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    constitutional_hash: str | None = None


class ValidateResponse(BaseModel):
    valid: bool
    errors: list[dict[str, str]]


class ErrorResponse(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None
