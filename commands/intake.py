"""The write-side service: turn one HTTP request into one acknowledged record on ``acgs.commands``.

Order of the steps matters: every check that can refuse the command runs before anything is appended, so a
refused command leaves nothing half-written (only its violation event, which is the record of the refusal).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from commands import rules
from commands.ids import derived_id, new_id
from commands.directory import REDIS_DOWN, RedisAgentDirectory, RedisIdempotencyStore, RedisStatusCache
from commands.exceptions import (AgentTenantConflict, CommandLogUnavailable, ConstitutionalViolation,
                                 DirectoryUnavailable, InvalidCommand, TenantMismatch)
from commands.kafka_log import KafkaCommandLog
from commands.models import RegisterAgentRequest, SendMessageRequest
from schemas.codec import AvroCodec
from schemas.topics import COMMANDS, CONSTITUTIONAL_EVENTS, REGISTER_AGENT

log = logging.getLogger("acgs.commands")

# Namespace for ids derived from (tenant, sender, idempotency key): the same key always names the same command.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3f0e-6c1b-4b7e-9a57-0acd5c0b2d11")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def check_event_id(command_id: str, source: str) -> str:
    return derived_id(IDEMPOTENCY_NAMESPACE, f"check\x00{command_id}\x00{source}")


def violation_record(command_id: str, tenant_id: str | None, from_agent: str | None, to_agent: str | None,
                     violation: rules.Violation, source: str) -> dict:
    return {
        "event_id": check_event_id(command_id, source), "command_id": command_id, "tenant_id": tenant_id,
        "from_agent": from_agent, "to_agent": to_agent,
        "outcome": "violation", "rule": violation.rule, "code": violation.code, "reason": violation.reason,
        "source": source, "checked_at": now_ms(),
    }


def headers_for(correlation_id: str, causation_id: str, tenant_id: str | None) -> list[tuple[str, bytes]]:
    return [("correlation_id", correlation_id.encode()), ("causation_id", causation_id.encode()),
            ("tenant_id", (tenant_id or "").encode())]


@contextlib.contextmanager
def _fail_closed_without_redis() -> Iterator[None]:
    """The tenancy checks read the agent directory in Redis: without it, refuse (fail closed) and say why."""
    try:
        yield
    except REDIS_DOWN as exc:
        log.warning("Redis unavailable: %s", exc)
        raise DirectoryUnavailable("redis_unavailable", "Redis is unavailable; retry shortly") from None


@dataclass
class MessageIntake:
    constitutional_hash: str
    max_content_bytes: int
    log: KafkaCommandLog
    codec: AvroCodec
    agents: RedisAgentDirectory
    idempotency: RedisIdempotencyStore
    statuses: RedisStatusCache
    idempotency_wait_s: float = 10.0  # how long a replay waits for the first request's append to finish

    async def send(self, req: SendMessageRequest, correlation_id: str) -> dict:
        with _fail_closed_without_redis():
            return await self._send(req, correlation_id)

    async def register(self, req: RegisterAgentRequest, correlation_id: str) -> dict:
        """Append a RegisterAgent command binding ``req.agent_id`` to ``req.tenant_id`` (first binding wins)."""
        with _fail_closed_without_redis():
            return await self._register(req, correlation_id)

    async def _send(self, req: SendMessageRequest, correlation_id: str) -> dict:
        tenant_id = rules.normalize_tenant_id(req.tenant_id)
        command_id = self._command_id(tenant_id, req.from_agent, req.idempotency_key)
        await self._refuse_if_invalid(req, tenant_id, command_id, correlation_id)
        return await self._once(tenant_id, command_id, req.idempotency_key,
                                lambda: self._append(req, tenant_id, command_id, correlation_id))

    async def _register(self, req: RegisterAgentRequest, correlation_id: str) -> dict:
        tenant_id = rules.normalize_tenant_id(req.tenant_id)
        command_id = self._command_id(tenant_id, f"register\x00{req.agent_id}", req.idempotency_key)
        if violation := rules.check_tenant_id(tenant_id):
            raise InvalidCommand(violation.code, violation.reason)
        violation = rules.check_constitutional_hash(req.constitutional_hash, self.constitutional_hash)
        if violation is not None:
            await self._record_violation(command_id, tenant_id, (req.agent_id, None), violation, correlation_id)
            raise ConstitutionalViolation(violation.code, violation.reason, command_id=command_id)
        (bound,) = await self.agents.tenants_of(req.agent_id)
        if violation := rules.check_registration(tenant_id, bound):
            await self._record_violation(command_id, tenant_id, (req.agent_id, None), violation, correlation_id)
            raise AgentTenantConflict(violation.code, violation.reason, command_id=command_id)
        return await self._once(tenant_id, command_id, req.idempotency_key,
                                lambda: self._append_registration(req, tenant_id, command_id, correlation_id))

    async def _once(self, tenant_id: str, command_id: str, idempotency_key: str | None, append) -> dict:  # noqa: ANN001
        """Run ``append`` once per idempotency key: a replay gets the first answer and appends nothing."""
        if idempotency_key is None:
            return await append()
        key = f"{tenant_id}:{command_id}"
        if not await self.idempotency.claim(key):
            previous = await self.idempotency.answer(key, wait_s=self.idempotency_wait_s)
            if previous is not None:
                return previous
            raise CommandLogUnavailable("idempotency_in_flight", "the first request with this key has not finished")
        try:
            answer = await append()
        except BaseException:
            await self.idempotency.release(key)
            raise
        await self.idempotency.complete(key, answer)
        return answer

    @staticmethod
    def _command_id(tenant_id: str, actor: str, idempotency_key: str | None) -> str:
        if idempotency_key is None:
            return new_id()
        return derived_id(IDEMPOTENCY_NAMESPACE, f"{tenant_id}\x00{actor}\x00{idempotency_key}")

    async def _refuse_if_invalid(self, req: SendMessageRequest, tenant_id: str, command_id: str,
                                 correlation_id: str) -> None:
        if violation := rules.check_tenant_id(tenant_id):
            raise InvalidCommand(violation.code, violation.reason)
        if len(req.content.encode()) > self.max_content_bytes:
            raise InvalidCommand("content_too_large", f"content exceeds {self.max_content_bytes} bytes")
        if violation := rules.check_constitutional_hash(req.constitutional_hash, self.constitutional_hash):
            await self._record_violation(command_id, tenant_id, (req.from_agent, req.to_agent), violation,
                                         correlation_id)
            raise ConstitutionalViolation(violation.code, violation.reason, command_id=command_id)
        sender_tenant, recipient_tenant = await self.agents.tenants_of(req.from_agent, req.to_agent)
        if violation := rules.check_tenancy(tenant_id, sender_tenant, recipient_tenant):
            await self._record_violation(command_id, tenant_id, (req.from_agent, req.to_agent), violation,
                                         correlation_id)
            raise TenantMismatch(violation.code, violation.reason, command_id=command_id)

    async def _record_violation(self, command_id: str, tenant_id: str, agents: tuple[str, str | None],
                                violation: rules.Violation, correlation_id: str) -> None:
        record = violation_record(command_id, tenant_id, *agents, violation, source="gateway")
        value = self.codec.encode(CONSTITUTIONAL_EVENTS, record)
        # The refusal stands even if Kafka is down (fail closed); the event is then lost with a log line.
        try:
            await self.log.append(CONSTITUTIONAL_EVENTS, command_id, value,
                                  headers_for(correlation_id, command_id, tenant_id))
        except CommandLogUnavailable as exc:
            log.warning("violation event for command %s (%s) not recorded, Kafka unavailable: %s", command_id,
                        violation.code, exc)

    async def _append(self, req: SendMessageRequest, tenant_id: str, command_id: str, correlation_id: str) -> dict:
        message_id = derived_id(IDEMPOTENCY_NAMESPACE, f"message\x00{command_id}")
        record = {
            "command_id": command_id, "message_id": message_id, "tenant_id": tenant_id,
            "from_agent": req.from_agent, "to_agent": req.to_agent, "message_type": req.message_type.value,
            "priority": req.priority.value, "content": req.content,
            "payload_json": orjson.dumps(req.payload).decode() if req.payload is not None else None,
            "constitutional_hash": req.constitutional_hash, "conversation_id": req.conversation_id,
            "idempotency_key": req.idempotency_key, "correlation_id": correlation_id, "issued_at": now_ms(),
        }
        value = self.codec.encode(COMMANDS, record)
        appended = await self.log.append(COMMANDS, req.from_agent, value,
                                         headers_for(correlation_id, correlation_id, tenant_id))
        answer = {"command_id": command_id, "message_id": message_id, "status": "accepted",
                  "topic": appended.topic, "partition": appended.partition, "offset": appended.offset}
        await self._cache_accepted(command_id, {**answer, "tenant_id": tenant_id})
        return answer

    async def _append_registration(self, req: RegisterAgentRequest, tenant_id: str, command_id: str,
                                   correlation_id: str) -> dict:
        record = {
            "command_id": command_id, "tenant_id": tenant_id, "agent_id": req.agent_id,
            "constitutional_hash": req.constitutional_hash, "idempotency_key": req.idempotency_key,
            "correlation_id": correlation_id, "issued_at": now_ms(),
        }
        value = self.codec.encode(COMMANDS, record, REGISTER_AGENT)
        appended = await self.log.append(COMMANDS, req.agent_id, value,
                                         headers_for(correlation_id, correlation_id, tenant_id))
        answer = {"command_id": command_id, "agent_id": req.agent_id, "tenant_id": tenant_id, "status": "accepted",
                  "topic": appended.topic, "partition": appended.partition, "offset": appended.offset}
        await self._cache_accepted(command_id, answer)
        return answer

    async def _cache_accepted(self, command_id: str, status: dict) -> None:
        try:
            await self.statuses.mark_accepted(command_id, status)
        except Exception as exc:  # noqa: BLE001 - the command is durable; only the hot cache missed it
            log.warning("status cache write failed for %s: %s", command_id, exc)
