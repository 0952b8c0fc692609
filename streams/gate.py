"""The constitutional gate: decides, for each raw record of ``acgs.commands``, what the log learns from it.

Framework-free: faust wiring lives in ``streams/app.py``. Every output id is derived from the command id
(or the source offset, for dead letters), so processing a record twice yields identical events: at-least-once
delivery from Kafka becomes idempotent effects downstream.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import psycopg
import redis.exceptions

from commands import rules
from commands.ids import derived_id
from commands.intake import IDEMPOTENCY_NAMESPACE, check_event_id, now_ms
from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from schemas.topics import (AGENT_MESSAGES, AGENT_REGISTRATIONS, COMMANDS, CONSTITUTIONAL_EVENTS,
                           DEAD_LETTER_ORIGINAL_MAX, DLQ, REGISTER_AGENT)
from streams.directory import AgentDirectory, Binding
from streams.governance.stage import GovernanceStage

PROCESSOR = "constitutional-gate"

log = logging.getLogger("acgs.streams.gate")


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _header(headers: list[tuple[str, bytes]], name: str) -> bytes:
    for key, value in headers:
        if key == name:
            return value or b""
    return b""


class _View:
    """The directory as one batch sees it: the bindings it found, plus those its own records make, in order."""

    def __init__(self, known: dict[str, Binding]) -> None:
        self.known = known
        self.new: dict[str, Binding] = {}  # to write to the directory before any output is published

    def of(self, agents: tuple[str, ...] | list[str]) -> dict[str, Binding]:
        return {a: self.known[a] for a in agents if a in self.known}

    def bind(self, tenant_id: str, agents: list[str], command_id: str) -> dict[str, Binding]:
        for agent in agents:
            if agent not in self.known:
                self.known[agent] = self.new[agent] = Binding(tenant_id, command_id)
        return self.of(agents)


@dataclass(frozen=True)
class _Pending:
    """A record the directory-free rules let through: its tenant rule waits for the batch's view."""
    raw: RawRecord
    record: dict
    agents: tuple[str, ...]
    registration: bool


@dataclass(frozen=True)
class _Decided:
    pending: _Pending
    violation: rules.Violation | None
    bindings: dict[str, Binding]


def _tenant(bindings: dict[str, Binding], agent: str) -> str | None:
    binding = bindings.get(agent)
    return None if binding is None else binding.tenant_id


def _accepted_check(record: dict, from_agent: str, to_agent: str | None, now: int) -> dict:
    """The ``constitutional.events`` record of a command the gate accepted."""
    return {"event_id": check_event_id(record["command_id"], "stream"), "command_id": record["command_id"],
            "tenant_id": record["tenant_id"], "from_agent": from_agent, "to_agent": to_agent, "outcome": "accepted",
            "rule": None, "code": None, "reason": None, "source": "stream", "checked_at": now}


class ConstitutionalGate:
    def __init__(self, codec: AvroCodec, directory: AgentDirectory, constitutional_hash: str,
                 max_content_bytes: int, governance: GovernanceStage | None = None,
                 require_registration: bool = False) -> None:
        self.codec = codec
        self.governance = governance  # None: every accepted command is delivered (no impact scoring)
        self.directory = directory
        self.constitutional_hash = constitutional_hash
        self.max_content_bytes = max_content_bytes
        self.require_registration = require_registration  # else a first accepted message binds its agents
        self._command_schema_ids = {s.schema_id for s in codec.registry.by_subject[f"{COMMANDS}-value"]}
        self._registration_schema_ids = {s.schema_id for s in
                                         codec.registry.by_subject[f"{COMMANDS}-{REGISTER_AGENT}"]}

    async def process(self, raw: RawRecord) -> list[Output]:
        return (await self.process_batch([raw]))[0]

    async def process_batch(self, raws: list[RawRecord]) -> list[list[Output]]:
        """The outputs of each of ``raws``, decided in order as if one after the other.

        The directory is asked once for every agent the batch names and written once for every agent it binds
        (a burst of new agents costs two round trips, not several per command). Should another worker have
        bound one of them first, the batch is decided again on what the directory then holds: bindings never
        change once made, so that second pass binds nothing new and agrees with a record-by-record run."""
        steps = [self._checked(raw) for raw in raws]
        agents = sorted({a for step in steps if isinstance(step, _Pending) for a in step.agents})
        for _ in range(3):
            view = _View(await self.directory.bindings_of(agents) if agents else {})
            decided = [self._decided(step, view) if isinstance(step, _Pending) else step for step in steps]
            if not view.new:
                break
            bound = await self.directory.bind(view.new)
            if all(bound.get(agent) == binding for agent, binding in view.new.items()):
                break
        else:  # pragma: no cover - the second pass binds nothing, so the loop ends by then
            raise RuntimeError("agent bindings kept changing under the gate")
        return [self._emitted(step) for step in decided]

    def _checked(self, raw: RawRecord) -> list[Output] | _Pending:
        """The rules that need no directory: outputs when they settle the record, else what it asks for."""
        try:
            try:
                schema, record = self.codec.decode(raw.value)
            except CodecError as exc:
                return [self.dead_letter(raw, exc.code, str(exc))]
            if schema.schema_id not in self._command_schema_ids:
                if schema.schema_id in self._registration_schema_ids:
                    return self._registration_checked(raw, record)
                return [self.dead_letter(raw, "unexpected_schema", f"{schema.full_name} is not a command")]
            violation = rules.check_message_fields(record, self.max_content_bytes)
            if violation is not None:
                return self._malformed(raw, record, violation)
            record["tenant_id"] = rules.normalize_tenant_id(record["tenant_id"])
            record["priority"] = rules.PRIORITY_ALIASES.get(record["priority"], record["priority"])
            violation = rules.check_constitutional_hash(record.get("constitutional_hash"), self.constitutional_hash)
            if violation is not None:
                return [self._violation(raw, record, violation)]
            return _Pending(raw, record, (record["from_agent"], record["to_agent"]), registration=False)
        except Exception as exc:  # noqa: BLE001 - a poison record must never stall its batch
            return [self._processor_error(raw, exc)]

    def _registration_checked(self, raw: RawRecord, record: dict) -> list[Output] | _Pending:
        """A RegisterAgent command: the same schema and hash rules as a message, then first binding wins."""
        violation = rules.check_registration_fields(record)
        if violation is not None:
            return self._malformed(raw, record, violation)
        record["tenant_id"] = rules.normalize_tenant_id(record["tenant_id"])
        violation = rules.check_constitutional_hash(record.get("constitutional_hash"), self.constitutional_hash)
        if violation is not None:
            return [self._violation(raw, record, violation)]
        return _Pending(raw, record, (record["agent_id"],), registration=True)

    def _decided(self, step: _Pending, view: _View) -> _Decided | list[Output]:
        """The tenant rule on the batch's view of the directory, binding agents seen for the first time
        (a registration always; a message unless registration is required)."""
        try:
            record, tenant = step.record, step.record["tenant_id"]
            if step.registration:
                agent = step.agents[0]
                known = view.bind(tenant, [agent], record["command_id"])
                return _Decided(step, rules.check_registration(tenant, _tenant(known, agent)), known)
            sender, recipient = step.agents
            known = view.of(step.agents)
            violation = rules.check_tenancy(tenant, _tenant(known, sender), _tenant(known, recipient))
            unknown = [a for a in dict.fromkeys(step.agents) if a not in known]
            if violation is not None or not unknown:
                return _Decided(step, violation, known)
            if self.require_registration:
                return _Decided(step, rules.unregistered(sorted(unknown)), known)
            known = view.bind(tenant, unknown, record["command_id"])
            return _Decided(step, rules.check_tenancy(tenant, _tenant(known, sender), _tenant(known, recipient)),
                            known)
        except Exception as exc:  # noqa: BLE001 - a poison record must never stall its batch
            return [self._processor_error(step.raw, exc)]

    def _emitted(self, step: _Decided | list[Output]) -> list[Output]:
        if not isinstance(step, _Decided):
            return step
        raw, record, bindings = step.pending.raw, step.pending.record, step.bindings
        try:
            if step.pending.registration:
                if step.violation is not None:
                    return [self._violation(raw, record, step.violation)]
                return self._registered(raw, record, bindings[record["agent_id"]])
            if step.violation is not None:
                # Bindings here if this message bound one of its agents and another worker bound the other
                # elsewhere: the directory keeps that binding, so the log announces it too.
                return [self._violation(raw, record, step.violation),
                        *self._bound_by_message(record, bindings, now_ms(), self._headers(raw, record))]
            return self._accepted(raw, record, bindings)
        except Exception as exc:  # noqa: BLE001 - a poison record must never stall its batch
            return [self._processor_error(raw, exc)]

    def _processor_error(self, raw: RawRecord, exc: Exception) -> Output:
        log.exception("gate failed on %s/%s/%s", raw.topic, raw.partition, raw.offset)
        return self.dead_letter(raw, "processor_error", f"{type(exc).__name__}: {exc}")

    def _registered(self, raw: RawRecord, record: dict, binding: Binding) -> list[Output]:
        now, headers = now_ms(), self._headers(raw, record)
        command_id, tenant, agent = record["command_id"], record["tenant_id"], record["agent_id"]
        check = _accepted_check(record, agent, None, now)
        return [Output(CONSTITUTIONAL_EVENTS, command_id.encode(),
                       self.codec.encode(CONSTITUTIONAL_EVENTS, check), headers),
                self._agent_registered(f"registered\x00{command_id}", command_id, tenant, agent, now, "registration",
                                       binding.command_id == command_id, headers)]

    def _agent_registered(self, event_key: str, command_id: str, tenant: str, agent: str, now: int, via: str,
                          first_binding: bool, headers: list[tuple[str, bytes]]) -> Output:
        """The ``agent.registrations`` record binding ``agent`` to ``tenant``; its id derives from ``event_key``."""
        event = {"event_id": derived_id(IDEMPOTENCY_NAMESPACE, event_key), "command_id": command_id,
                 "tenant_id": tenant, "agent_id": agent, "registered_at": now, "via": via,
                 "first_binding": first_binding}
        return Output(AGENT_REGISTRATIONS, agent.encode(), self.codec.encode(AGENT_REGISTRATIONS, event), headers)

    def _bound_by_message(self, record: dict, bindings: dict[str, Binding], now: int,
                          headers: list[tuple[str, bytes]]) -> list[Output]:
        """``AgentRegistered`` (via=first_message) for each agent this message bound. Decided from the
        binding's command, not from whether the agent was new just now, so a redelivered message announces
        its bindings again (same event ids) and a crash between binding and publishing loses none."""
        command_id = record["command_id"]
        return [self._agent_registered(f"bound\x00{command_id}\x00{agent}", command_id, binding.tenant_id, agent, now,
                                       "first_message", True, headers)
                for agent in dict.fromkeys((record["from_agent"], record["to_agent"]))
                if (binding := bindings.get(agent)) is not None and binding.command_id == command_id]

    def _malformed(self, raw: RawRecord, record: dict, violation: rules.Violation) -> list[Output]:
        """A record breaking a field rule: a dead letter, and a violation event if it names a usable command."""
        dead = self.dead_letter(raw, violation.code, violation.reason)
        if not rules.usable_id(record.get("command_id")):
            return [dead]  # no command to name: the dead letter keeps the record and says why
        return [dead, self._violation(raw, record, violation)]

    def _headers(self, raw: RawRecord, record: dict) -> list[tuple[str, bytes]]:
        correlation = _header(raw.headers, "correlation_id") or record.get("correlation_id", "").encode()
        return [("correlation_id", correlation), ("causation_id", record["command_id"].encode()),
                ("tenant_id", (rules.indexable(record.get("tenant_id")) or "").encode())]

    def _violation(self, raw: RawRecord, record: dict, violation: rules.Violation) -> Output:
        # The refused record's own fields are repeated only where they are fit to index (rules.indexable).
        event = {
            "event_id": check_event_id(record["command_id"], "stream"), "command_id": record["command_id"],
            "tenant_id": rules.indexable(record.get("tenant_id")),
            "from_agent": rules.indexable(record.get("from_agent", record.get("agent_id"))),
            "to_agent": rules.indexable(record.get("to_agent")), "outcome": "violation", "rule": violation.rule,
            "code": violation.code, "reason": violation.reason, "source": "stream", "checked_at": now_ms(),
        }
        return Output(CONSTITUTIONAL_EVENTS, record["command_id"].encode(),
                      self.codec.encode(CONSTITUTIONAL_EVENTS, event), self._headers(raw, record))

    def _accepted(self, raw: RawRecord, record: dict, bindings: dict[str, Binding]) -> list[Output]:
        now = now_ms()
        headers = self._headers(raw, record)
        delivered = {
            "event_id": derived_id(IDEMPOTENCY_NAMESPACE, f"delivered\x00{record['command_id']}"),
            **{k: record[k] for k in ("command_id", "message_id", "tenant_id", "from_agent", "to_agent",
                                      "message_type", "priority", "content", "payload_json", "conversation_id",
                                      "constitutional_hash", "issued_at")},
            "delivered_at": now,
        }
        check = _accepted_check(record, record["from_agent"], record["to_agent"], now)
        outputs = [Output(CONSTITUTIONAL_EVENTS, record["command_id"].encode(),
                          self.codec.encode(CONSTITUTIONAL_EVENTS, check), headers)]
        outputs.extend(self._bound_by_message(record, bindings, now, headers))
        staged = self.governance.stage(record, delivered, headers) if self.governance is not None else None
        if staged is None or staged.route == "auto":
            outputs.append(Output(AGENT_MESSAGES, record["to_agent"].encode(),
                                  self.codec.encode(AGENT_MESSAGES, delivered), headers))
        if staged is not None:
            # Held commands: no delivery now; the approvals writer releases ``delivered`` on approval.
            outputs.extend(Output(topic, key, value, headers + extra) for topic, key, value, extra in staged.records)
        return outputs

    def dead_letter(self, raw: RawRecord, code: str, error: str) -> Output:
        return self.dead_letter_for(self.codec, raw, code, error, PROCESSOR)

    @staticmethod
    def dead_letter_for(codec: AvroCodec, raw: RawRecord, code: str, error: str, processor: str) -> Output:
        """The ``acgs.dlq`` record for ``raw``: original bytes kept, facts repeated in headers. An original too
        large to repeat whole is cut (the error says so); the whole record stays at its source offset."""
        original = raw.value
        if original is not None and len(original) > DEAD_LETTER_ORIGINAL_MAX:
            error = f"{error[:1000]} (original value cut from {len(original)} bytes; whole at its source offset)"
            original = original[:DEAD_LETTER_ORIGINAL_MAX]
        event = {
            "event_id": derived_id(IDEMPOTENCY_NAMESPACE, f"dlq\x00{raw.topic}\x00{raw.partition}\x00{raw.offset}"),
            "source_topic": raw.topic, "source_partition": raw.partition, "source_offset": raw.offset,
            "original_key": raw.key, "original_value": original, "error_code": code, "error": error[:2000],
            "processor": processor, "recorded_at": now_ms(),
        }
        headers = [("source_topic", raw.topic.encode()), ("source_partition", str(raw.partition).encode()),
                   ("source_offset", str(raw.offset).encode()), ("error_code", code.encode()),
                   ("error", error[:500].encode()), ("processor", processor.encode()),
                   ("correlation_id", _header(raw.headers, "correlation_id")),
                   ("causation_id", f"{raw.topic}/{raw.partition}/{raw.offset}".encode()),
                   ("tenant_id", _header(raw.headers, "tenant_id"))]
        return Output(DLQ, raw.key or b"", codec.encode(DLQ, event), headers)


async def decide(gate: ConstitutionalGate, raws: list[RawRecord]) -> list[list[Output]]:
    """Run the gate on a batch; retry infrastructure errors (never lose a record), dead-letter everything else.

    The gate turns a record's own failures into its dead letter; an error it lets out of a batch (the
    directory refusing one of the batch's agents, say) is retried record by record, so only that record's
    dead letter is left."""
    delay = 0.1
    while True:
        try:
            return await gate.process_batch(raws)
        except (psycopg.OperationalError, redis.exceptions.ConnectionError) as exc:
            # Postgres/Redis down is not the records' fault: hold the partition and retry.
            log.warning("infrastructure error on a batch of %d records from %s/%s/%s, retrying in %.1fs: %s",
                        len(raws), raws[0].topic, raws[0].partition, raws[0].offset, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        except Exception as exc:  # noqa: BLE001 - a poison record must never stall its partition
            if len(raws) == 1:
                log.exception("gate failed on %s/%s/%s", raws[0].topic, raws[0].partition, raws[0].offset)
                return [[gate.dead_letter(raws[0], "processor_error", f"{type(exc).__name__}: {exc}")]]
            log.exception("gate failed on a batch of %d records; deciding them one by one", len(raws))
            return [(await decide(gate, [raw]))[0] for raw in raws]
