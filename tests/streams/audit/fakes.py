"""An audit log built in memory, the way the audit worker builds it, plus fakes of its ports.

``build_log`` makes real Avro events on two topics, appends them in log order to a MerkleLog over the memory
store, seals signed checkpoints at the given sizes and anchors some of them on a fake chain. Tests then
mutate one thing and check that exactly that is reported.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.codec import AvroCodec
from streams.anchoring.contract import Anchor
from streams.audit.auditor import VerifierKey
from streams.audit.merkle import MemoryNodeStore, MerkleLog, NodeKey, leaf_hash
from streams.audit.records import CheckpointSealed, LeafAppended, SourceRecord, describe
from streams.audit.sealing import seal
from streams.audit.verification import ChainAnchor, LogKey, subtree_levels

ORIGIN = "test.example/audit-log"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
CODEC = AvroCodec()


def event(topic: str, n: int, tenant: str = "tenant-a") -> bytes:
    event_id = str(uuid.UUID(int=n))
    if topic == "constitutional.events":
        record = {"event_id": event_id, "command_id": f"c{n}", "tenant_id": tenant, "from_agent": "a",
                  "to_agent": "b", "outcome": "accepted", "rule": None, "code": None, "reason": None,
                  "source": "stream", "checked_at": 1000 + n}
    else:
        record = {"event_id": event_id, "command_id": f"c{n}", "message_id": f"m{n}", "tenant_id": tenant,
                  "from_agent": "a", "to_agent": "b", "message_type": "command", "priority": "normal",
                  "content": f"hello {n}", "payload_json": None, "conversation_id": None,
                  "constitutional_hash": "cdd01ef066bc6cf2", "issued_at": 1000 + n, "delivered_at": 1000 + n}
    return CODEC.encode(topic, record)


@dataclass
class BuiltLog:
    records: list[SourceRecord]
    leaves: list[LeafAppended]
    log: MerkleLog
    store: MemoryNodeStore
    checkpoints: list[CheckpointSealed]
    anchors: list[Anchor] = field(default_factory=list)

    @property
    def log_key(self) -> LogKey:
        return LogKey(ORIGIN, ORIGIN, KEY.public_key())

    @property
    def verifier_key(self) -> VerifierKey:
        return VerifierKey(ORIGIN, ORIGIN, KEY.public_key())


def build_log(size: int = 21, sealed_at: Iterable[int] = (5, 13, 21), anchored: Iterable[int] = (13,)) -> BuiltLog:
    records, leaves = [], []
    store = MemoryNodeStore()
    log = MerkleLog(store)
    checkpoints, sealed = [], set(sealed_at)
    for n in range(size):
        topic = ("agent.messages", "constitutional.events")[n % 2]
        record = SourceRecord(topic, n % 3, n // 6, 1000 + n, event(topic, n))
        facts = describe(CODEC, record.value)
        (index,) = log.append_leaf_hashes([leaf_hash(record.value)])
        records.append(record)
        leaves.append(LeafAppended(index, leaf_hash(record.value), topic, record.partition, record.offset,
                                   facts.event_id, facts.event_type, facts.tenant_id, record.timestamp_ms))
        if log.size in sealed:
            checkpoints.append(seal(log, ORIGIN, KEY, checkpoints[-1] if checkpoints else None, 5000 + log.size))
    by_size = {cp.tree_size: cp for cp in checkpoints}
    anchors = [Anchor(s, by_size[s].root_hash, by_size[s].checkpoint_hash, 0, "0x0") for s in sorted(anchored)]
    return BuiltLog(records, leaves, log, store, checkpoints, anchors)


def replace(items: list, index: int, **changes: object) -> list:
    """A copy of ``items`` with one dataclass element changed."""
    copy = list(items)
    copy[index] = dataclasses.replace(copy[index], **changes)
    return copy


# --- Fakes of the verification ports ------------------------------------------------------------------


class FakeEvidence:
    """Evidence and StoredLog over a BuiltLog (as the database, Kafka and chain would answer)."""

    def __init__(self, built: BuiltLog, pinned: int | None = None) -> None:
        self.built = built
        self.leaf_rows = {leaf.leaf_index: leaf for leaf in built.leaves}
        self.values = {(r.topic, r.partition, r.offset): r.value for r in built.records}
        self.nodes = built.store
        self.checkpoint_rows = {cp.tree_size: cp for cp in built.checkpoints}
        self.chain = {a.tree_size: a for a in built.anchors}
        self.read_model_anchors = set(self.chain)
        self.pinned = pinned

    def log_size(self) -> int:
        return self.built.log.size

    def source_value(self, topic: str, partition: int, offset: int) -> bytes | None:
        return self.values.get((topic, partition, offset))

    def node(self, key: NodeKey) -> bytes | None:
        return self.nodes.get_nodes([key]).get(key)

    def checkpoint_for(self, leaf_index: int) -> tuple[CheckpointSealed | None, bool]:
        if self.pinned is not None:
            return self.checkpoint_rows[self.pinned], self.pinned in self.read_model_anchors
        anchored = [s for s in self.read_model_anchors if s > leaf_index and s in self.checkpoint_rows]
        if anchored:
            return self.checkpoint_rows[max(anchored)], True
        newest = max(self.checkpoint_rows, default=0)
        return (self.checkpoint_rows[newest], False) if newest > leaf_index else (None, False)

    def checkpoint_at(self, tree_size: int) -> CheckpointSealed | None:
        return self.checkpoint_rows.get(tree_size)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        return MerkleLog(self.nodes, self.built.log.size).inclusion_proof(leaf_index, tree_size)

    def differing_nodes(self, keys: Iterable[NodeKey]) -> list[tuple[NodeKey, bytes, bytes]]:
        found = []
        for level, index in keys:
            begin = index << level
            leaves = [self.leaf_rows[i].leaf_hash for i in range(begin, begin + (1 << level))]
            for lvl, row in enumerate(subtree_levels(leaves)):
                for offset, want in enumerate(row):
                    key = (lvl, (index << (level - lvl)) + offset)
                    stored = self.node(key)
                    if stored != want:
                        found.append((key, stored, want))
        return sorted(found)

    def chain_anchor(self, tree_size: int) -> ChainAnchor | None:
        anchor = self.chain.get(tree_size)
        return None if anchor is None else ChainAnchor(anchor.tree_size, anchor.root_hash, anchor.checkpoint_hash,
                                                       f"anchor of size {tree_size}")

    # StoredLog

    def leaf_hashes(self) -> list[tuple[int, bytes]]:
        return sorted((i, leaf.leaf_hash) for i, leaf in self.leaf_rows.items())

    def level_nodes(self, level: int) -> dict[int, bytes]:
        return {idx: value for (lvl, idx), value in self.nodes._nodes.items() if lvl == level}

    def checkpoints(self) -> list[CheckpointSealed]:
        return [self.checkpoint_rows[s] for s in sorted(self.checkpoint_rows)]

    def anchored_sizes(self) -> list[int]:
        return sorted(self.read_model_anchors)


class FakeLogSource:
    """LogSource: the published topics and the audited partitions, as Kafka would serve them."""

    def __init__(self, leaves: list[LeafAppended], checkpoints: list[CheckpointSealed],
                 records: list[SourceRecord]) -> None:
        self._leaves = leaves
        self._checkpoints = checkpoints
        self._records = sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
        self.undecodable: list[str] = []

    def leaves(self) -> list[LeafAppended]:
        return list(self._leaves)

    def checkpoints(self) -> list[CheckpointSealed]:
        return list(self._checkpoints)

    def partitions(self, topic: str) -> list[int]:
        return sorted({r.partition for r in self._records if r.topic == topic})

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        offsets = [r.offset for r in self._records if (r.topic, r.partition) == (topic, partition)]
        return (min(offsets), max(offsets) + 1) if offsets else (0, 0)

    def records(self, topic: str, partition: int, start: int, end: int) -> Iterator[SourceRecord]:
        for r in self._records:
            if (r.topic, r.partition) == (topic, partition) and start <= r.offset < end:
                yield r


class FakeChain:
    def __init__(self, anchors: list[Anchor]) -> None:
        self._anchors = anchors

    def anchors(self) -> list[Anchor]:
        return list(self._anchors)
