"""Verifying one event of the log, step by step, so that a failure names exactly what does not hold.

Steps of ``verify_leaf`` (each needs the previous ones; the first failure ends the run):
  1. leaf_record           the leaf exists (and its index is below the log size)
  2. source_event          Kafka still holds the record at the leaf's topic/partition/offset
  3. leaf_hash             SHA-256(0x00 || those exact bytes) equals the leaf's recorded hash
  4. event_identity        the event decoded from those bytes has the leaf's event id, type and tenant
  5. leaf_node             the tree's stored level-0 node equals the leaf hash
  6. checkpoint_signature  the checkpoint used (newest anchored one covering the leaf, else newest) verifies
                           under the log's public key, and its stored size/root match what it signs
  7. inclusion_proof       the audit path from the stored nodes leads to the signed root (on failure, the
                           stored nodes that differ from a recomputation from the leaves are named)
  8. checkpoint_consistency the checkpoint's stored consistency proof from its predecessor verifies
  9. anchor                the chain's anchor of that size holds the same root and SHA-256(note); "pending"
                           while no anchor covers the leaf yet
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.codec import AvroCodec
from streams.audit.checkpoint import open_checkpoint
from streams.audit.exceptions import NoteError, ProofError
from streams.audit.merkle import (
    NODE_PREFIX,
    NodeKey,
    inclusion_ranges,
    leaf_hash,
    range_keys,
    verify_consistency,
    verify_inclusion,
)
from streams.audit.records import CheckpointSealed, LeafAppended, describe, note_hash

OK, FAILED, PENDING = "ok", "failed", "pending"


@dataclass(frozen=True)
class Step:
    name: str
    status: str  # ok | failed | pending
    detail: str
    got: str | None = None
    want: str | None = None


@dataclass
class Verification:
    """The steps run, in order."""

    steps: list[Step] = field(default_factory=list)
    leaf: LeafAppended | None = None
    checkpoint: CheckpointSealed | None = None
    anchored: bool = False

    def ok(self, name: str, detail: str) -> None:
        self.steps.append(Step(name, OK, detail))

    def fail(self, name: str, detail: str, got: bytes | str | None = None, want: bytes | str | None = None) -> None:
        self.steps.append(Step(name, FAILED, detail, _hex(got), _hex(want)))

    @property
    def failed_step(self) -> str | None:
        return next((s.name for s in self.steps if s.status == FAILED), None)

    @property
    def verified(self) -> bool:
        """No step failed, and only the anchor may still be pending (the checkpoint itself verified)."""
        return all(s.status == OK or (s.status == PENDING and s.name == "anchor") for s in self.steps)


def _hex(value: bytes | str | None) -> str | None:
    return value.hex() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class ChainAnchor:
    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes
    where: str  # e.g. "anchor #3 of 0xabc… on chain 31337, tx 0x…"


class Evidence(Protocol):
    """Port: what ``verify_leaf`` reads (the log's database, Kafka, the chain)."""

    def log_size(self) -> int: ...

    def source_value(self, topic: str, partition: int, offset: int) -> bytes | None: ...

    def node(self, key: NodeKey) -> bytes | None: ...

    def checkpoint_for(self, leaf_index: int) -> tuple[CheckpointSealed | None, bool]:
        """The checkpoint to verify against (newest anchored covering the leaf, else newest), and if anchored."""

    def checkpoint_at(self, tree_size: int) -> CheckpointSealed | None: ...

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]: ...

    def differing_nodes(self, keys: Iterable[NodeKey]) -> list[tuple[NodeKey, bytes, bytes]]:
        """Stored nodes under ``keys`` that differ from a recomputation from the leaf rows: (key, stored, want)."""

    def chain_anchor(self, tree_size: int) -> ChainAnchor | None: ...


@dataclass(frozen=True)
class LogKey:
    origin: str
    key_name: str
    public_key: Ed25519PublicKey | None


def verify_leaf(evidence: Evidence, leaf: LeafAppended | None, leaf_index: int, key: LogKey,
                codec: AvroCodec) -> Verification:
    """Run the steps of the module docstring for ``leaf`` (None: no row at ``leaf_index``)."""
    report = Verification(leaf=leaf)
    size = evidence.log_size()
    if leaf is None:
        report.fail("leaf_record", f"leaf {leaf_index} is missing from the log's leaf rows, "
                                   f"which claim {size} leaves")
        return report
    report.ok("leaf_record", f"leaf {leaf.leaf_index} of {size}")
    for step in (_check_source, _check_node, _check_checkpoint, _check_proof, _check_consistency, _check_anchor):
        if not step(evidence, report, key, codec):
            break
    return report


def _check_source(evidence: Evidence, report: Verification, _: LogKey, codec: AvroCodec) -> bool:
    leaf = report.leaf
    where = f"{leaf.source_topic}/{leaf.partition}/{leaf.offset}"
    value = evidence.source_value(leaf.source_topic, leaf.partition, leaf.offset)
    if value is None:
        report.fail("source_event", f"Kafka holds no record at {where}")
        return False
    report.ok("source_event", f"record at {where}, {len(value)} bytes")
    computed = leaf_hash(value)
    if computed != leaf.leaf_hash:
        report.fail("leaf_hash", f"SHA-256(0x00 || record at {where}) differs from leaf {leaf.leaf_index}'s hash",
                    got=leaf.leaf_hash, want=computed)
        return False
    report.ok("leaf_hash", "leaf hash recomputed from the Kafka bytes")
    facts = describe(codec, value)
    recorded = (leaf.event_id, leaf.event_type, leaf.tenant_id)
    if (facts.event_id, facts.event_type, facts.tenant_id) != recorded:
        report.fail("event_identity", f"leaf row says {recorded}, the event says "
                                      f"{(facts.event_id, facts.event_type, facts.tenant_id)}")
        return False
    report.ok("event_identity", f"{facts.event_type} {facts.event_id}")
    return True


def _check_node(evidence: Evidence, report: Verification, _: LogKey, __: AvroCodec) -> bool:
    leaf = report.leaf
    stored = evidence.node((0, leaf.leaf_index))
    if stored != leaf.leaf_hash:
        report.fail("leaf_node", f"tree node (0,{leaf.leaf_index}) differs from the leaf hash",
                    got=stored, want=leaf.leaf_hash)
        return False
    report.ok("leaf_node", f"tree node (0,{leaf.leaf_index})")
    return True


def _check_checkpoint(evidence: Evidence, report: Verification, key: LogKey, _: AvroCodec) -> bool:
    checkpoint, anchored = evidence.checkpoint_for(report.leaf.leaf_index)
    if checkpoint is None:
        report.steps.append(Step("checkpoint_signature", PENDING, "no checkpoint covers this leaf yet"))
        return False
    report.checkpoint, report.anchored = checkpoint, anchored
    failure = checkpoint_failure(checkpoint, key)
    if failure is not None:
        report.fail("checkpoint_signature", f"checkpoint of size {checkpoint.tree_size}: {failure[0]}",
                    got=failure[1], want=failure[2])
        return False
    report.ok("checkpoint_signature", f"checkpoint of size {checkpoint.tree_size} signed by {key.key_name}")
    return True


def checkpoint_failure(cp: CheckpointSealed, key: LogKey) -> tuple[str, bytes | None, bytes | None] | None:
    """Why ``cp`` is not a valid checkpoint of the log (message, got, want), or None."""
    if key.public_key is None:
        return ("no verifier key is configured", None, None)
    try:
        signed = open_checkpoint(cp.note, key.key_name, key.public_key, origin=key.origin)
    except NoteError as exc:
        return (f"{type(exc).__name__}: {exc}", None, None)
    if signed.size != cp.tree_size:
        return (f"stored size {cp.tree_size} but the note signs size {signed.size}", None, None)
    if signed.root_hash != cp.root_hash:
        return ("stored root differs from the signed root", cp.root_hash, signed.root_hash)
    return None


def _check_proof(evidence: Evidence, report: Verification, _: LogKey, __: AvroCodec) -> bool:
    leaf, cp = report.leaf, report.checkpoint
    proof = evidence.inclusion_proof(leaf.leaf_index, cp.tree_size)
    try:
        verify_inclusion(leaf.leaf_hash, leaf.leaf_index, cp.tree_size, proof, cp.root_hash)
    except ProofError as exc:
        tiles = [k for begin, end in inclusion_ranges(leaf.leaf_index, cp.tree_size) for k in range_keys(begin, end)]
        bad = evidence.differing_nodes(tiles)
        named = "; ".join(f"node ({k[0]},{k[1]}) stored {s.hex()}, recomputed {w.hex()}" for k, s, w in bad[:8])
        report.fail("inclusion_proof", f"audit path of leaf {leaf.leaf_index} in tree {cp.tree_size}: {exc}"
                                       + (f"; altered {named}" if named else ""),
                    got=bad[0][1] if bad else None, want=bad[0][2] if bad else None)
        return False
    report.ok("inclusion_proof", f"{len(proof)} hashes to the signed root of size {cp.tree_size}")
    return True


def _check_consistency(evidence: Evidence, report: Verification, key: LogKey, _: AvroCodec) -> bool:
    cp = report.checkpoint
    if cp.previous_size is None:
        report.ok("checkpoint_consistency", "first checkpoint of the log")
        return True
    previous = evidence.checkpoint_at(cp.previous_size)
    if previous is None or checkpoint_failure(previous, key) is not None:
        report.fail("checkpoint_consistency", f"previous checkpoint (size {cp.previous_size}) is missing or invalid")
        return False
    try:
        verify_consistency(previous.tree_size, cp.tree_size, previous.root_hash, cp.root_hash, cp.consistency_proof)
    except ProofError as exc:
        report.fail("checkpoint_consistency", f"size {previous.tree_size} -> {cp.tree_size}: {exc}")
        return False
    report.ok("checkpoint_consistency", f"consistent with the checkpoint of size {previous.tree_size}")
    return True


def _check_anchor(evidence: Evidence, report: Verification, _: LogKey, __: AvroCodec) -> bool:
    cp = report.checkpoint
    if not report.anchored:
        report.steps.append(Step("anchor", PENDING, f"checkpoint of size {cp.tree_size} is not anchored yet"))
        return True
    anchor = evidence.chain_anchor(cp.tree_size)
    if anchor is None:
        report.fail("anchor", f"the chain has no anchor of size {cp.tree_size}, though the read model lists one")
        return False
    if anchor.root_hash != cp.root_hash:
        report.fail("anchor", f"{anchor.where}: root on chain differs from the log's", got=anchor.root_hash,
                    want=cp.root_hash)
        return False
    if anchor.checkpoint_hash != note_hash(cp.note):
        report.fail("anchor", f"{anchor.where}: checkpoint hash on chain differs from SHA-256(note)",
                    got=anchor.checkpoint_hash, want=note_hash(cp.note))
        return False
    report.ok("anchor", anchor.where)
    return True


# --- Recomputing subtrees (diagnosis) -------------------------------------------------------------------


def subtree_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """All levels of the perfect subtree over ``leaves`` (a power-of-two count), level 0 first."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([hashlib.sha256(NODE_PREFIX + below[i] + below[i + 1]).digest()
                       for i in range(0, len(below), 2)])
    return levels
