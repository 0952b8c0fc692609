"""The independent audit (``acgs audit verify``): Kafka, the chain and the log's public key; nothing else.

Steps, each reporting precise findings rather than stopping at the first:
  1. read ``audit.logs`` and ``audit.checkpoints`` in full;
  2. verify every checkpoint's signature; two valid checkpoints of one size with different roots are a fork;
  3. re-read the source partitions the leaves point into: recompute each leaf hash from the exact bytes, and
     check that every source record up to the log's frontier is a leaf or a re-delivery (same event id) of one;
  4. recompute the root at every checkpoint and anchor size from those leaves, and check the published
     consistency proofs between consecutive checkpoints;
  5. read every anchor from the contract: each must be a signed checkpoint of this log, with the root
     recomputed from the events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.codec import AvroCodec
from streams.anchoring.contract import Anchor
from streams.audit.checkpoint import open_checkpoint
from streams.audit.exceptions import NoteError, ProofError
from streams.audit.log_check import roots_at
from streams.audit.merkle import leaf_hash, verify_consistency
from streams.audit.records import CheckpointSealed, LeafAppended, SourceRecord, describe, note_hash

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str


@dataclass
class AuditReport:
    leaves: int = 0
    checkpoints: int = 0
    source_records: int = 0
    redeliveries: int = 0
    anchors: int = 0
    anchored_size: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, code: str, message: str) -> None:
        self.findings.append(Finding(code, message))


class LogSource(Protocol):
    undecodable: list[str]

    def leaves(self) -> list[LeafAppended]: ...

    def checkpoints(self) -> list[CheckpointSealed]: ...

    def partitions(self, topic: str) -> list[int]: ...

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]: ...

    def records(self, topic: str, partition: int, start: int, end: int) -> Iterator[SourceRecord]: ...


class ChainSource(Protocol):
    def anchors(self) -> list[Anchor]: ...


@dataclass(frozen=True)
class VerifierKey:
    origin: str
    key_name: str
    public_key: Ed25519PublicKey


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


class Auditor:
    def __init__(self, source: LogSource, chain: ChainSource | None, key: VerifierKey,
                 codec: AvroCodec | None = None, progress: Progress = _no_progress) -> None:
        self._source = source
        self._chain = chain
        self._key = key
        self._codec = codec or AvroCodec()
        self._progress = progress
        self.report = AuditReport()

    def run(self) -> AuditReport:
        leaves = self._read_leaves()  # step 1
        checkpoints = self._valid_checkpoints(self._source.checkpoints())  # step 2
        hashes = self._check_sources(leaves)  # step 3
        roots = self._check_roots(leaves, hashes, checkpoints)  # step 4
        self._check_anchors(checkpoints, roots, len(leaves))  # step 5
        return self.report

    # --- steps ------------------------------------------------------------------------------------------

    def _read_leaves(self) -> dict[int, LeafAppended]:
        leaves: dict[int, LeafAppended] = {}
        for leaf in self._source.leaves():
            seen = leaves.get(leaf.leaf_index)
            if seen is not None and seen != leaf:
                self.report.add("leaf_conflict", f"audit.logs holds two different records for leaf {leaf.leaf_index}")
            leaves.setdefault(leaf.leaf_index, leaf)
        for position in self._source.undecodable:
            self.report.add("undecodable", f"record does not decode: {position}")
        size = max(leaves, default=-1) + 1
        for first, last in _runs(i for i in range(size) if i not in leaves):
            which = f"leaf {first} is" if first == last else f"leaves {first}..{last} are"
            self.report.add("leaf_missing", f"{which} missing from audit.logs (the log has {size} leaves)")
        self.report.leaves = len(leaves)
        return leaves

    def _valid_checkpoints(self, published: list[CheckpointSealed]) -> dict[int, CheckpointSealed]:
        valid: dict[int, CheckpointSealed] = {}
        key = self._key
        for cp in published:
            try:
                signed = open_checkpoint(cp.note, key.key_name, key.public_key, origin=key.origin)
            except NoteError as exc:
                self.report.add("checkpoint_signature", f"checkpoint of size {cp.tree_size}: {exc}")
                continue
            if (signed.size, signed.root_hash) != (cp.tree_size, cp.root_hash):
                self.report.add("checkpoint_fields", f"checkpoint of size {cp.tree_size}: the record's size/root "
                                                     f"differ from what its note signs")
            other = valid.get(signed.size)
            if other is not None and other.root_hash != signed.root_hash:
                self.report.add("fork", f"two signed checkpoints of size {signed.size} with different roots: "
                                        f"{other.root_hash.hex()} and {signed.root_hash.hex()}")
                continue
            valid.setdefault(signed.size, cp)
        self.report.checkpoints = len(valid)
        return valid

    def _check_sources(self, leaves: dict[int, LeafAppended]) -> dict[int, bytes]:
        """Leaf hashes recomputed from Kafka; also reports records that are in Kafka but not in the log."""
        wanted: dict[tuple[str, int], dict[int, LeafAppended]] = defaultdict(dict)
        for leaf in leaves.values():
            wanted[(leaf.source_topic, leaf.partition)][leaf.offset] = leaf
        logged_ids = {leaf.event_id for leaf in leaves.values() if leaf.event_id}
        hashes: dict[int, bytes] = {}
        total, done = len(leaves), 0
        for (topic, partition), by_offset in sorted(wanted.items()):
            low, _ = self._source.watermarks(topic, partition)
            for record in self._source.records(topic, partition, low, max(by_offset) + 1):
                self.report.source_records += 1
                leaf = by_offset.pop(record.offset, None)
                if leaf is None:
                    self._unlogged(record, logged_ids)
                    continue
                hashes[leaf.leaf_index] = computed = leaf_hash(record.value)
                if computed != leaf.leaf_hash:
                    self.report.add("leaf_hash", f"leaf {leaf.leaf_index}: SHA-256(0x00 || {topic}/{partition}/"
                                                 f"{record.offset}) is {computed.hex()}, audit.logs says "
                                                 f"{leaf.leaf_hash.hex()}")
                done += 1
                if done % 1000 == 0:
                    self._progress("events", done, total)
            for offset, leaf in sorted(by_offset.items()):
                self.report.add("source_missing", f"leaf {leaf.leaf_index}: Kafka no longer holds its event "
                                                  f"{topic}/{partition}/{offset}")
        self._progress("events", total, total)
        return hashes

    def _unlogged(self, record: SourceRecord, logged_ids: set[str]) -> None:
        facts = describe(self._codec, record.value)
        if facts.event_id is not None and facts.event_id in logged_ids:
            self.report.redeliveries += 1
            return
        self.report.add("event_not_logged", f"{record.topic}/{record.partition}/{record.offset} "
                                            f"({facts.event_type} {facts.event_id}) is in Kafka but not in the log")

    def _check_roots(self, leaves: dict[int, LeafAppended], hashes: dict[int, bytes],
                     checkpoints: dict[int, CheckpointSealed]) -> dict[int, bytes]:
        size = max(leaves, default=-1) + 1
        complete = next((i for i in range(size) if i not in leaves), size)  # roots need every leaf below
        level0 = [hashes.get(i, leaves[i].leaf_hash) for i in range(complete)]
        anchor_sizes = [a.tree_size for a in self._anchors()]
        roots = roots_at(level0, [s for s in {*checkpoints, *anchor_sizes} if s <= complete])
        for tree_size, cp in sorted(checkpoints.items()):
            if tree_size > size:
                self.report.add("checkpoint_beyond_log", f"checkpoint of size {tree_size} but audit.logs has "
                                                         f"{size} leaves")
            elif tree_size > complete:
                self.report.add("root_unverifiable", f"checkpoint of size {tree_size}: leaf {complete} is missing")
            elif roots[tree_size] != cp.root_hash:
                self.report.add("root_mismatch", f"checkpoint of size {tree_size} signs root {cp.root_hash.hex()}, "
                                                 f"the events give {roots[tree_size].hex()}")
        self._check_consistency(checkpoints)
        return roots

    def _check_consistency(self, checkpoints: dict[int, CheckpointSealed]) -> None:
        for tree_size, cp in sorted(checkpoints.items()):
            previous = checkpoints.get(cp.previous_size) if cp.previous_size is not None else None
            if previous is None:
                continue
            try:
                verify_consistency(previous.tree_size, tree_size, previous.root_hash, cp.root_hash,
                                   cp.consistency_proof)
            except ProofError as exc:
                self.report.add("consistency", f"checkpoint {previous.tree_size} -> {tree_size}: {exc}")

    def _anchors(self) -> list[Anchor]:
        if not hasattr(self, "_anchor_list"):
            self._anchor_list = self._chain.anchors() if self._chain is not None else []
        return self._anchor_list

    def _check_anchors(self, checkpoints: dict[int, CheckpointSealed], roots: dict[int, bytes], size: int) -> None:
        for index, anchor in enumerate(self._anchors()):
            where = f"anchor #{index} (size {anchor.tree_size})"
            cp = checkpoints.get(anchor.tree_size)
            if cp is None:
                self.report.add("anchor_without_checkpoint", f"{where}: no signed checkpoint of that size")
            elif anchor.root_hash != cp.root_hash:
                self.report.add("anchor_root_mismatch", f"{where}: chain holds root {anchor.root_hash.hex()}, "
                                                        f"the signed checkpoint {cp.root_hash.hex()}")
            elif anchor.checkpoint_hash != note_hash(cp.note):
                self.report.add("anchor_checkpoint_hash", f"{where}: chain holds checkpoint hash "
                                                          f"{anchor.checkpoint_hash.hex()}, SHA-256 of the note is "
                                                          f"{note_hash(cp.note).hex()}")
            elif anchor.tree_size in roots and roots[anchor.tree_size] != anchor.root_hash:
                self.report.add("anchor_root_mismatch", f"{where}: chain root differs from the root of the events")
            else:
                self.report.anchored_size = max(self.report.anchored_size, anchor.tree_size)
            self._progress("anchors", index + 1, len(self._anchors()))
        self.report.anchors = len(self._anchors())


def _runs(indexes: Iterator[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs of ascending integers as (first, last)."""
    first = last = None
    for i in indexes:
        if last is not None and i == last + 1:
            last = i
            continue
        if first is not None:
            yield first, last
        first = last = i
    if first is not None:
        yield first, last


class ContractAnchors:
    """ChainSource over a deployed AuditAnchor (read-only)."""

    def __init__(self, contract) -> None:  # noqa: ANN001 - AuditAnchorContract
        self._contract = contract

    def anchors(self) -> list[Anchor]:
        return [self._contract.anchor_at(i) for i in range(self._contract.count())]
