"""What the audit log records: its input (a source record), its events (leaf appended, checkpoint sealed).

Events are frozen and past tense; their wire form on ``audit.logs`` / ``audit.checkpoints`` is a separate dict
(``*_to_wire`` / ``*_from_wire``) with hashes as lowercase hex.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from commands.rules import indexable
from schemas.codec import AvroCodec
from schemas.exceptions import CodecError

UNDECODABLE = "undecodable"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record of an audited topic, exactly as Kafka holds it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the log indexes about an event (never part of the leaf hash, which covers the bytes only)."""

    event_id: str | None
    event_type: str
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class LeafAppended:
    """The log appended the leaf ``leaf_index`` for the source record at topic/partition/offset."""

    leaf_index: int
    leaf_hash: bytes
    source_topic: str
    partition: int
    offset: int
    event_id: str | None
    event_type: str
    tenant_id: str | None
    recorded_at: int  # Kafka timestamp of the source record, ms


@dataclass(frozen=True, slots=True)
class CheckpointSealed:
    """The log signed ``note``, committing to ``root_hash`` at ``tree_size``."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    note: str
    previous_size: int | None
    consistency_proof: tuple[bytes, ...]  # previous_size -> tree_size

    @property
    def checkpoint_hash(self) -> bytes:
        """SHA-256 of the signed note: what the chain anchors next to size and root."""
        return note_hash(self.note)


def note_hash(note: str) -> bytes:
    return hashlib.sha256(note.encode("utf-8")).digest()


def describe(codec: AvroCodec, value: bytes | None) -> EventFacts:
    """Index facts of an event value; an undecodable value is still logged, as ``undecodable``."""
    try:
        schema, record = codec.decode(value)
    except CodecError:
        return EventFacts(None, UNDECODABLE, None)
    # The leaf hashes the record's bytes whatever they hold; only these index facts must fit the index.
    return EventFacts(indexable(record.get("event_id")), schema.full_name.rsplit(".", 1)[-1],
                      indexable(record.get("tenant_id")))



def leaf_to_wire(leaf: LeafAppended) -> dict[str, Any]:
    return {"leaf_index": leaf.leaf_index, "leaf_hash": leaf.leaf_hash.hex(), "source_topic": leaf.source_topic,
            "partition": leaf.partition, "offset": leaf.offset, "event_id": leaf.event_id,
            "event_type": leaf.event_type, "tenant_id": leaf.tenant_id, "recorded_at": leaf.recorded_at}


def leaf_from_wire(record: dict[str, Any]) -> LeafAppended:
    return LeafAppended(record["leaf_index"], bytes.fromhex(record["leaf_hash"]), record["source_topic"],
                        record["partition"], record["offset"], record["event_id"], record["event_type"],
                        record["tenant_id"], record["recorded_at"])


def checkpoint_to_wire(cp: CheckpointSealed) -> dict[str, Any]:
    return {"origin": cp.origin, "tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(),
            "timestamp": cp.timestamp_ms, "note": cp.note, "checkpoint_hash": cp.checkpoint_hash.hex(),
            "previous_size": cp.previous_size, "consistency_proof": [h.hex() for h in cp.consistency_proof]}


def checkpoint_from_wire(record: dict[str, Any]) -> CheckpointSealed:
    return CheckpointSealed(record["origin"], record["tree_size"], bytes.fromhex(record["root_hash"]),
                            record["timestamp"], record["note"], record["previous_size"],
                            tuple(bytes.fromhex(h) for h in record["consistency_proof"]))
