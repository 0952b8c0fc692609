"""The platform's Kafka topics: names, keys and retention are part of the public contract."""

from __future__ import annotations

from dataclasses import dataclass, field

COMMANDS = "acgs.commands"
AGENT_MESSAGES = "agent.messages"
CONSTITUTIONAL_EVENTS = "constitutional.events"
DLQ = "acgs.dlq"

# An audit log: never compacted, never deleted by time or size.
_KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    doc: str
    config: dict[str, str] = field(default_factory=lambda: dict(_KEEP_FOREVER))


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(COMMANDS, "the sending agent id (`from_agent`): one agent's commands stay in order",
              "every submitted command, as appended by the gateway or any producer"),
    TopicSpec(AGENT_MESSAGES, "the recipient agent id: one inbox is one partition, in order",
              "messages delivered to recipients after the constitutional gate"),
    TopicSpec(CONSTITUTIONAL_EVENTS, "the command id",
              "outcome of every constitutional check: accepted, or violation with rule and reason"),
    TopicSpec(DLQ, "the original record key",
              "records no processor could decode or validate, with the original bytes and the error"),
)
