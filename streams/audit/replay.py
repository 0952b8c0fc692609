"""Event replay for audits (``acgs replay``): a range of events, each checked against the anchored log.

The anchored log is rebuilt without our database: the newest anchor on chain names a tree size and root;
``audit.checkpoints`` must hold a checkpoint of that size, validly signed, whose SHA-256 is the anchored one;
the leaf hashes on ``audit.logs`` must give that root. Each replayed event then gets an inclusion proof in
that tree, computed locally, and verified against the on-chain root from the event's own bytes.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from streams.anchoring.exceptions import NoAnchorsError
from streams.audit.auditor import ChainSource, LogSource, VerifierKey
from streams.audit.checkpoint import open_checkpoint
from streams.audit.exceptions import AuditError, NoteError, ProofError
from streams.audit.merkle import MemoryNodeStore, MerkleLog, leaf_hash, verify_inclusion
from streams.audit.records import SourceRecord, describe, note_hash


class ReplayError(AuditError):
    """The anchored log cannot be established, so nothing can be verified against it."""


@dataclass
class AnchoredLog:
    tree_size: int
    root_hash: bytes
    log: MerkleLog
    positions: dict[tuple[str, int, int], int]  # (topic, partition, offset) -> leaf index, anchored or not
    event_ids: dict[str, int]


def load_anchored_log(source: LogSource, chain: ChainSource, key: VerifierKey) -> AnchoredLog:
    try:
        anchors = chain.anchors()
    except NoAnchorsError:
        anchors = []
    if not anchors:
        raise ReplayError("nothing is anchored on chain yet")
    anchor = anchors[-1]
    signed = [cp for cp in source.checkpoints() if cp.tree_size == anchor.tree_size
              and note_hash(cp.note) == anchor.checkpoint_hash]
    if not signed:
        raise ReplayError(f"no published checkpoint matches the newest anchor (size {anchor.tree_size})")
    try:
        body = open_checkpoint(signed[0].note, key.key_name, key.public_key, origin=key.origin)
    except NoteError as exc:
        raise ReplayError(f"the anchored checkpoint does not verify: {exc}") from None
    if body.root_hash != anchor.root_hash:
        raise ReplayError("the anchored root differs from the anchored checkpoint's root")
    every = {leaf.leaf_index: leaf for leaf in source.leaves()}
    if any(i not in every for i in range(anchor.tree_size)):
        raise ReplayError(f"audit.logs lacks some of the {anchor.tree_size} anchored leaves")
    log = MerkleLog(MemoryNodeStore())
    log.append_leaf_hashes(every[i].leaf_hash for i in range(anchor.tree_size))
    if log.root() != anchor.root_hash:
        raise ReplayError("the leaves on audit.logs do not give the anchored root")
    return AnchoredLog(anchor.tree_size, anchor.root_hash, log,
                       {(lf.source_topic, lf.partition, lf.offset): i for i, lf in every.items()},
                       {lf.event_id: i for i, lf in every.items() if lf.event_id})


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def check(anchored: AnchoredLog | None, record: SourceRecord, codec: AvroCodec) -> dict[str, Any]:
    """The verification of one event: verified, not_in_log, duplicate (of a leaf), not_anchored, mismatch."""
    if anchored is None:
        return {"status": "unchecked"}
    index = anchored.positions.get((record.topic, record.partition, record.offset))
    if index is None:
        facts = describe(codec, record.value)
        original = anchored.event_ids.get(facts.event_id) if facts.event_id else None
        if original is not None:
            return {"status": "duplicate", "leaf_index": original,
                    "detail": "a re-delivery of an event the log records at this leaf"}
        return {"status": "not_in_log", "detail": "no leaf of the log records this event"}
    if index >= anchored.tree_size:
        return {"status": "not_anchored", "leaf_index": index,
                "detail": f"leaf {index} is newer than the newest anchor (size {anchored.tree_size})"}
    proof = anchored.log.inclusion_proof(index, anchored.tree_size)
    try:
        verify_inclusion(leaf_hash(record.value), index, anchored.tree_size, proof, anchored.root_hash)
    except ProofError as exc:
        return {"status": "mismatch", "leaf_index": index, "detail": str(exc)}
    return {"status": "verified", "leaf_index": index, "tree_size": anchored.tree_size,
            "root_hash": anchored.root_hash.hex(), "proof": [h.hex() for h in proof]}


def replay(source: LogSource, ranges: list[tuple[str, int, int, int]], anchored: AnchoredLog | None,
           codec: AvroCodec | None = None) -> Iterator[dict[str, Any]]:
    """One JSON-able line per record of ``ranges`` ((topic, partition, start, end)), merged by timestamp."""
    codec = codec or AvroCodec()
    streams = [source.records(t, p, start, end) for t, p, start, end in ranges]
    merged = heapq.merge(*streams, key=lambda r: (r.timestamp_ms, r.topic, r.partition, r.offset))
    for record in merged:
        try:
            schema, event = codec.decode(record.value)
            body: dict[str, Any] = {"event_type": schema.full_name.rsplit(".", 1)[-1], "event": _jsonable(event)}
        except CodecError as exc:
            body = {"event_type": "undecodable", "event": None, "error": str(exc),
                    "value": base64.b64encode(record.value).decode("ascii")}
        yield {"topic": record.topic, "partition": record.partition, "offset": record.offset,
               "timestamp": record.timestamp_ms, **body, "verification": check(anchored, record, codec)}
