"""Constitutional and tenant rules for agent messages and registrations: pure functions, shared by the
gateway and the stream gate.

The gateway applies them to reject bad commands early; the stream gate applies the same functions to every
record on ``acgs.commands``, however it got there, so a producer writing straight to Kafka is held to them too.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

import orjson

MESSAGE_TYPES = frozenset({
    "command", "query", "response", "event", "notification", "heartbeat", "governance_request",
    "governance_response", "constitutional_validation", "task_request", "task_response", "audit_log",
})
PRIORITIES = frozenset({"low", "normal", "high", "critical"})
PRIORITY_ALIASES = {"medium": "normal"}
TENANT_ID_RE = re.compile(r"^[a-z0-9_-]{3,64}$")
AGENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


@dataclass(frozen=True)
class Violation:
    """A broken rule: ``rule`` names the rule family, ``code`` is machine-readable."""

    rule: str
    code: str
    reason: str


def normalize_tenant_id(raw: str) -> str:
    return raw.strip().lower()


def check_tenant_id(raw: str | None) -> Violation | None:
    if raw is None or not TENANT_ID_RE.fullmatch(normalize_tenant_id(raw)):
        return Violation("schema", "invalid_tenant_id",
                         "tenant_id must match ^[a-z0-9_-]{3,64}$ after trimming and lowercasing")
    return None


def check_constitutional_hash(presented: str | None, expected: str) -> Violation | None:
    """Constant-time comparison; the expected hash is never part of the answer."""
    if not presented:
        return Violation("constitutional_hash", "constitutional_hash_mismatch", "constitutional_hash is missing")
    if not hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode()):
        return Violation("constitutional_hash", "constitutional_hash_mismatch",
                         "constitutional_hash does not match the constitution in force")
    return None


def check_tenancy(tenant_id: str, sender_tenant: str | None, recipient_tenant: str | None) -> Violation | None:
    """Sender, recipient and message tenant must agree (an unknown agent joins the message's tenant)."""
    if sender_tenant is not None and sender_tenant != tenant_id:
        return Violation("tenant_isolation", "tenant_mismatch",
                         f"sender belongs to another tenant than {tenant_id!r}")
    if recipient_tenant is not None and recipient_tenant != tenant_id:
        return Violation("tenant_isolation", "tenant_mismatch",
                         f"recipient belongs to another tenant than {tenant_id!r}")
    return None


NUL_VIOLATION = Violation("schema", "nul_character",
                          "text must not contain the NUL character (U+0000): Postgres text and JSON columns cannot hold it")


def contains_nul(value: object) -> bool:
    """True if a string anywhere in ``value`` (dict keys and values, list items) holds U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


def _payload_has_nul(payload_json: str | None) -> bool:
    # JSON can only carry U+0000 escaped; parse only when that escape is there at all.
    if not payload_json or "\\u0000" not in payload_json:
        return contains_nul(payload_json)
    try:
        return contains_nul(orjson.loads(payload_json))
    except orjson.JSONDecodeError:
        return True  # not JSON and holding the escape: refuse rather than guess


# Lengths of the record's ids, as the gateway bounds them: ids become primary keys and index entries, and
# Postgres refuses an index entry over about 2.7 kB.
ID_LIMITS = {"command_id": 128, "message_id": 128, "conversation_id": 128, "idempotency_key": 256,
             "constitutional_hash": 256}


def indexable(value: object, limit: int = 256) -> str | None:
    """``value`` if it is text every reader can index (no NUL, well under Postgres's 2.7 kB index entries),
    else None: what a refused record's fields become when an event repeats them."""
    if isinstance(value, str) and len(value) <= limit and "\x00" not in value:
        return value
    return None


def usable_id(value: object) -> bool:
    """Whether ``value`` can name a command in events and read models (a violation event is keyed by it)."""
    return bool(indexable(value, ID_LIMITS["command_id"]))


def check_message_fields(record: dict, max_content_bytes: int) -> Violation | None:
    """Field rules of a SendAgentMessage record that Avro's types alone cannot express."""
    if contains_nul({k: v for k, v in record.items() if k != "payload_json"}) or _payload_has_nul(
            record.get("payload_json")):
        return NUL_VIOLATION
    for name, limit in ID_LIMITS.items():
        value = record.get(name)
        if value is not None and not 0 < len(value) <= limit:
            return Violation("schema", "invalid_id", f"{name} must be 1 to {limit} characters")
    for name in ("from_agent", "to_agent"):
        if not AGENT_ID_RE.fullmatch(record.get(name) or ""):
            return Violation("schema", "invalid_agent_id", f"{name} must match {AGENT_ID_RE.pattern}")
    if record.get("message_type") not in MESSAGE_TYPES:
        return Violation("schema", "invalid_message_type", "message_type is not one of the known types")
    if PRIORITY_ALIASES.get(record.get("priority"), record.get("priority")) not in PRIORITIES:
        return Violation("schema", "invalid_priority", "priority must be low, normal, high or critical")
    if len(record.get("content", "").encode()) > max_content_bytes:
        return Violation("schema", "content_too_large", f"content exceeds {max_content_bytes} bytes")
    return check_tenant_id(record.get("tenant_id"))


def check_registration_fields(record: dict) -> Violation | None:
    """Field rules of a RegisterAgent record that Avro's types alone cannot express."""
    if contains_nul(record):
        return NUL_VIOLATION
    for name in ("command_id", "idempotency_key", "constitutional_hash"):
        value, limit = record.get(name), ID_LIMITS[name]
        if value is not None and not 0 < len(value) <= limit:
            return Violation("schema", "invalid_id", f"{name} must be 1 to {limit} characters")
    if not AGENT_ID_RE.fullmatch(record.get("agent_id") or ""):
        return Violation("schema", "invalid_agent_id", f"agent_id must match {AGENT_ID_RE.pattern}")
    return check_tenant_id(record.get("tenant_id"))


def check_registration(tenant_id: str, bound_tenant: str | None) -> Violation | None:
    """An agent is registered to one tenant for good: registering it to another is refused."""
    if bound_tenant is not None and bound_tenant != tenant_id:
        return Violation("tenant_isolation", "agent_tenant_conflict",
                         f"the agent already belongs to another tenant than {tenant_id!r}")
    return None


def unregistered(agents: list[str]) -> Violation:
    """A message naming agents no registration has bound, where registration is required."""
    return Violation("tenant_isolation", "agent_not_registered",
                     f"{len(agents)} agent(s) of this message are not registered to any tenant "
                     f"(register them with POST /api/v1/agents/register)")
