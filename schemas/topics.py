"""The platform's Kafka topics: names, keys and retention are part of the public contract."""

from __future__ import annotations

from dataclasses import dataclass, field

COMMANDS = "acgs.commands"
AGENT_MESSAGES = "agent.messages"
AGENT_REGISTRATIONS = "agent.registrations"
CONSTITUTIONAL_EVENTS = "constitutional.events"
DLQ = "acgs.dlq"
AUDIT_LOGS = "audit.logs"
AUDIT_CHECKPOINTS = "audit.checkpoints"
AUDIT_ANCHORS = "audit.anchors"
GOVERNANCE_DECISIONS = "governance.decisions"
APPROVAL_COMMANDS = "approval.commands"
APPROVAL_EVENTS = "approval.events"
GOVERNANCE_ANOMALIES = "governance.anomalies"

# The second record type on acgs.commands, under its TopicRecordNameStrategy subject (subjects.json).
REGISTER_AGENT = "dev.acgs.commands.RegisterAgent"

# The largest record the platform writes. A command may carry 1 MiB of content plus a payload (the HTTP body
# may be 3 MiB), and a dead letter repeats the record it refuses, so Kafka's 1 MB default is too small: every
# producer, the broker and every topic allow this much (producers get PRODUCER_MAX_BYTES for the request
# around it). A dead letter cuts a larger original (``DEAD_LETTER_ORIGINAL_MAX``); it stays at its offset.
MAX_RECORD_BYTES = 8 * 1024 * 1024
PRODUCER_MAX_BYTES = MAX_RECORD_BYTES + 64 * 1024
DEAD_LETTER_ORIGINAL_MAX = MAX_RECORD_BYTES - 64 * 1024

# An audit log: never compacted, never deleted by time or size.
_KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1",
                 "max.message.bytes": str(PRODUCER_MAX_BYTES)}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    doc: str
    config: dict[str, str] = field(default_factory=lambda: dict(_KEEP_FOREVER))


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(COMMANDS, "the sending agent id (`from_agent`; a registration's `agent_id`): one agent's commands "
              "stay in order", "every submitted command (SendAgentMessage, RegisterAgent), as appended by the "
              "gateway or any producer"),
    TopicSpec(AGENT_MESSAGES, "the recipient agent id: one inbox is one partition, in order",
              "messages delivered to recipients after the constitutional gate"),
    TopicSpec(AGENT_REGISTRATIONS, "the agent id",
              "every binding of an agent to a tenant: by an accepted RegisterAgent command, or by the first "
              "accepted message naming the agent"),
    TopicSpec(CONSTITUTIONAL_EVENTS, "the command id",
              "outcome of every constitutional check: accepted, or violation with rule and reason"),
    TopicSpec(DLQ, "the original record key",
              "records no processor could decode or validate, with the original bytes and the error"),
    TopicSpec(AUDIT_LOGS, "the log's origin: the whole audit log sits in one partition, in leaf order",
              "one record per leaf of the RFC 6962 audit log over every audited event topic"),
    TopicSpec(AUDIT_CHECKPOINTS, "the log's origin",
              "signed checkpoints (C2SP signed notes) of the audit log, each with its consistency proof"),
    TopicSpec(AUDIT_ANCHORS, "the log's origin",
              "checkpoints anchored on chain by the AuditAnchor contract: chain id, contract, tx hash, block"),
    TopicSpec(GOVERNANCE_DECISIONS, "the command id",
              "impact score and route of every accepted command (kind=routed), then the human outcome (kind=outcome)"),
    TopicSpec(APPROVAL_COMMANDS, "the approval id: one request's commands reach its single writer in order",
              "commands to approval requests (request, vote, delegate) from the gateway and the gate"),
    TopicSpec(APPROVAL_EVENTS, "the approval id (same partition as its commands)",
              "every state change of every approval request aggregate, written by its partition's single writer"),
    TopicSpec(GOVERNANCE_ANOMALIES, "the agent id (anomaly) or `impact-model` (drift)",
              "per-agent behaviour anomalies and drift of the impact model's error against human decisions"),
)
