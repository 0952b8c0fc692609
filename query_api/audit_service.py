"""The audit log's read side: leaves, proofs, checkpoints, anchors, seal-now and verification.

Blocking by nature (the Merkle code and web3 are synchronous), so the router runs these methods in threads,
on a small pool of autocommit connections of their own. The gateway never writes the log: "seal now" asks
the audit worker (the log's single writer) with ``NOTIFY acgs_audit_seal`` and waits for its checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition
from psycopg_pool import ConnectionPool

from acgs.settings import Settings
from query_api.exceptions import QueryError
from schemas.codec import AvroCodec
from streams.anchoring.deployment import public_rpc_url, read_deployment
from streams.audit import pg_store
from streams.audit.checkpoint import parse_verifier_key
from streams.audit.exceptions import InvalidKeyError, MissingNodeError
from streams.audit.keys import log_verifier_key
from streams.audit.log_check import verify_log
from streams.audit.merkle import MerkleLog, NodeKey
from streams.audit.pg_store import LEAF_COLUMNS, PostgresNodeStore, leaf_from_row
from streams.audit.processor import SEAL_CHANNEL
from streams.audit.records import CheckpointSealed, LeafAppended
from streams.audit.verification import ChainAnchor, LogKey, Verification, subtree_levels, verify_leaf

CHECKPOINT_COLUMNS = pg_store.CHECKPOINT_COLUMNS


@dataclass(frozen=True)
class ChainInfo:
    chain_id: int
    rpc_url: str | None  # internal, may hold credentials
    public_rpc_url: str | None
    contract_address: str | None


def chain_info(settings: Settings) -> ChainInfo:
    if not (settings.audit_enabled and settings.anchoring_enabled):
        return ChainInfo(settings.eth_chain_id, None, None, None)
    address = settings.anchor_contract_address
    if address is None and (deployment := read_deployment(settings.state_dir)) is not None:
        address = deployment.contract_address if deployment.chain_id == settings.eth_chain_id else None
    return ChainInfo(settings.eth_chain_id, settings.eth_rpc, public_rpc_url(settings.eth_rpc), address)


def leaf_public(leaf: LeafAppended) -> dict[str, Any]:
    return {"leaf_index": leaf.leaf_index, "leaf_hash": leaf.leaf_hash.hex(), "source_topic": leaf.source_topic,
            "partition": leaf.partition, "offset": leaf.offset, "event_id": leaf.event_id,
            "event_type": leaf.event_type, "tenant_id": leaf.tenant_id, "recorded_at": leaf.recorded_at}


def fetch_record(bootstrap: str, topic: str, partition: int, offset: int, timeout_s: float = 5.0) -> bytes | None:
    """The value of the record at topic/partition/offset, or None if Kafka does not hold it."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "acgs-audit-reader", "enable.auto.commit": False,
                         "enable.partition.eof": True, "log_level": 0})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
        if not low <= offset < high:
            return None
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    return None
                continue
            return (msg.value() or b"") if msg.offset() == offset else None
        raise QueryError(503, "kafka_unavailable", f"Kafka did not return {topic}/{partition}/{offset} in time")
    finally:
        consumer.close()


class AuditService:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._origin = settings.audit_origin
        # As the gateway's pool: connections broken by a database restart are replaced before use.
        self._pool = ConnectionPool(settings.postgres_dsn, min_size=1, max_size=4, open=False, timeout=5,
                                    check=ConnectionPool.check_connection,
                                    kwargs={"autocommit": True, "connect_timeout": 3})
        self._codec = AvroCodec()
        self.chain = chain_info(settings)
        self._contract = None

    def open(self) -> None:
        self._pool.open(wait=False)

    def close(self) -> None:
        self._pool.close()

    # --- keys and chain ---------------------------------------------------------------------------------

    @property
    def verifier_key(self) -> str | None:
        s = self._settings
        secret = s.audit_signing_key.get_secret_value() if s.audit_signing_key else None
        return log_verifier_key(self._origin, s.audit_verifier_key, secret, s.state_dir)

    def log_key(self) -> LogKey:
        vkey = self.verifier_key
        if vkey is None:
            return LogKey(self._origin, self._origin, None)
        try:
            name, public = parse_verifier_key(vkey)
        except InvalidKeyError:
            return LogKey(self._origin, self._origin, None)
        return LogKey(self._origin, name, public)

    def contract(self):  # noqa: ANN201 - AuditAnchorContract, imported lazily (web3 is heavy)
        if self._contract is None:
            if self.chain.contract_address is None or self.chain.rpc_url is None:
                raise QueryError(503, "anchoring_not_configured", "no anchor contract is configured")
            from streams.anchoring.app import web3_for
            from streams.anchoring.contract import AuditAnchorContract

            w3 = web3_for(self.chain.rpc_url, self._settings.anchor_rpc_timeout_s)
            self._contract = AuditAnchorContract(w3, self.chain.contract_address)
        return self._contract

    # --- leaves -----------------------------------------------------------------------------------------

    def leaves(self, tenant_id: str | None, event_type: str | None, from_time: int | None, to_time: int | None,
               after: int, limit: int) -> dict[str, Any]:
        where, params = ["leaf_index > %s"], [after]
        for clause, value in (("tenant_id = %s", tenant_id), ("event_type = %s", event_type),
                              ("recorded_at >= %s", from_time), ("recorded_at < %s", to_time)):
            if value is not None:
                where.append(clause)
                params.append(value)
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT {', '.join(LEAF_COLUMNS)} FROM audit_leaves WHERE {' AND '.join(where)} "
                                f"ORDER BY leaf_index LIMIT %s", [*params, limit + 1]).fetchall()
        leaves = [leaf_public(leaf_from_row(r)) for r in rows[:limit]]
        return {"leaves": leaves, "next": leaves[-1]["leaf_index"] if len(rows) > limit else None}

    def leaf(self, leaf_index: int) -> dict[str, Any]:
        with self._pool.connection() as conn:
            found = _leaf(conn, "leaf_index = %s", leaf_index)
        if found is None:
            raise QueryError(404, "leaf_not_found", f"the log has no leaf {leaf_index}")
        return leaf_public(found)

    # --- proofs -----------------------------------------------------------------------------------------

    def _proof_size(self, conn: psycopg.Connection, requested: int | None, name: str) -> int:
        """The tree size a proof is for: as requested (checked against the log), else the latest checkpoint's."""
        size = _log_size(conn)
        if requested is None:
            latest = pg_store.latest_checkpoint(conn, self._origin)
            requested = latest.tree_size if latest is not None else size
        _check_size(requested, size, name)
        return requested

    def inclusion(self, leaf_index: int, tree_size: int | None) -> dict[str, Any]:
        with self._pool.connection() as conn:
            tree_size = self._proof_size(conn, tree_size, "tree_size")
            if not 0 <= leaf_index < tree_size:
                raise QueryError(422, "leaf_index_out_of_range",
                                 f"leaf_index {leaf_index} must be below tree_size {tree_size}")
            log = _open_log(conn, tree_size)
            proof = log.inclusion_proof(leaf_index, tree_size)
            leaf = PostgresNodeStore(conn).get_nodes([(0, leaf_index)])[(0, leaf_index)]
            return {"leaf_index": leaf_index, "tree_size": tree_size, "leaf_hash": leaf.hex(),
                    "hashes": [h.hex() for h in proof], "root_hash": log.root().hex()}

    def consistency(self, first: int, second: int | None) -> dict[str, Any]:
        with self._pool.connection() as conn:
            second = self._proof_size(conn, second, "second")
            if not 0 < first <= second:
                raise QueryError(422, "tree_size_out_of_range", f"need 0 < first <= second, got {first}, {second}")
            log = _open_log(conn, second)
            proof = log.consistency_proof(first, second)
            return {"first": first, "second": second, "hashes": [h.hex() for h in proof],
                    "first_root": log.root(first).hex(), "second_root": log.root().hex()}

    # --- checkpoints ------------------------------------------------------------------------------------

    def latest_checkpoint(self) -> dict[str, Any]:
        with self._pool.connection() as conn:
            latest = pg_store.latest_checkpoint(conn, self._origin)
        if latest is None:
            raise QueryError(404, "no_checkpoint", "the log has not sealed a checkpoint yet")
        return self.checkpoint_public(latest)

    def checkpoint_public(self, cp: CheckpointSealed) -> dict[str, Any]:
        return {"origin": cp.origin, "tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(),
                "timestamp": cp.timestamp_ms, "note": cp.note, "checkpoint_hash": cp.checkpoint_hash.hex(),
                "previous_size": cp.previous_size, "consistency_proof": [h.hex() for h in cp.consistency_proof],
                "verifier_key": self.verifier_key}

    def seal(self, timeout_s: float = 10.0) -> tuple[dict[str, Any], bool]:
        """Ask the audit worker to seal now; return (checkpoint covering the log as of now, whether new)."""
        with self._pool.connection() as conn:
            size = _log_size(conn)
            if size == 0:
                raise QueryError(409, "audit_log_empty", "the log has no leaves to seal yet")
            latest = pg_store.latest_checkpoint(conn, self._origin)
            if latest is not None and latest.tree_size >= size:
                return self.checkpoint_public(latest), False
            conn.execute("SELECT pg_notify(%s, '')", (SEAL_CHANNEL,))
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                latest = pg_store.latest_checkpoint(conn, self._origin)
                if latest is not None and latest.tree_size >= size:
                    return self.checkpoint_public(latest), True
                time.sleep(0.02)
        raise QueryError(503, "audit_writer_unavailable", f"no checkpoint of size >= {size} within {timeout_s:.0f}s")

    # --- anchors ----------------------------------------------------------------------------------------

    def anchors(self, limit: int) -> dict[str, Any]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT tx_hash, block_number, block_hash, chain_id, contract_address, anchor_index, tree_size, "
                "root_hash, checkpoint_hash, submitter, anchored_at, submitted_at, confirmed_at FROM audit_anchors "
                "ORDER BY anchored_at DESC, tree_size DESC LIMIT %s", (limit,)).fetchall()
        names = ("tx_hash", "block_number", "block_hash", "chain_id", "contract_address", "anchor_index", "tree_size",
                 "root_hash", "checkpoint_hash", "submitter", "anchored_at", "submitted_at", "confirmed_at")
        anchors = [{k: bytes(v).hex() if isinstance(v, bytes | memoryview) else v
                    for k, v in zip(names, r, strict=True)} for r in rows]
        return {"chain_id": self.chain.chain_id, "rpc_url": self.chain.public_rpc_url,
                "contract_address": self.chain.contract_address, "anchors": anchors}

    # --- verification -----------------------------------------------------------------------------------

    def verify(self, event_id: str | None, leaf_index: int | None, tree_size: int | None = None) -> Verification:
        with self._pool.connection() as conn:
            if event_id is not None:
                leaf = _leaf(conn, "event_id = %s", event_id)
                if leaf is None:
                    raise QueryError(404, "event_not_in_log", f"no leaf records event {event_id}")
                leaf_index = leaf.leaf_index
            else:
                leaf = _leaf(conn, "leaf_index = %s", leaf_index)
                if leaf is None and leaf_index >= _log_size(conn):
                    raise QueryError(404, "leaf_not_found", f"the log has no leaf {leaf_index}")
            if tree_size is not None and pg_store.checkpoint_at(conn, self._origin, tree_size) is None:
                raise QueryError(404, "checkpoint_not_found", f"no checkpoint of tree size {tree_size}")
            return verify_leaf(_Evidence(conn, self, tree_size), leaf, leaf_index, self.log_key(), self._codec)

    def verify_log(self) -> Verification:
        with self._pool.connection() as conn:
            return verify_log(_Evidence(conn, self), self.log_key())


def _leaf(conn: psycopg.Connection, where: str, value: object) -> LeafAppended | None:
    row = conn.execute(f"SELECT {', '.join(LEAF_COLUMNS)} FROM audit_leaves WHERE {where}", (value,)).fetchone()
    return leaf_from_row(row) if row else None


def _log_size(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT size FROM audit_log_state").fetchone()
    return row[0] if row else 0


def _check_size(tree_size: int, size: int, name: str) -> None:
    if not 0 < tree_size <= size:
        raise QueryError(422, "tree_size_out_of_range", f"{name} {tree_size} must be in 1..{size} (the log size)")


def _open_log(conn: psycopg.Connection, size: int) -> MerkleLog:
    try:
        return MerkleLog(PostgresNodeStore(conn), size)
    except MissingNodeError as exc:
        raise QueryError(500, "audit_log_corrupt", str(exc)) from None


class _Evidence:
    """The Evidence and StoredLog ports over one connection, Kafka and the chain."""

    def __init__(self, conn: psycopg.Connection, service: AuditService, pinned_size: int | None = None) -> None:
        self._conn = conn
        self._service = service
        self._pinned = pinned_size
        self._store = PostgresNodeStore(conn)

    def log_size(self) -> int:
        return _log_size(self._conn)

    def source_value(self, topic: str, partition: int, offset: int) -> bytes | None:
        return fetch_record(self._service._settings.kafka_bootstrap, topic, partition, offset)

    def node(self, key: NodeKey) -> bytes | None:
        return self._store.get_nodes([key]).get(key)

    def checkpoint_for(self, leaf_index: int) -> tuple[CheckpointSealed | None, bool]:
        chain = self._service.chain
        if self._pinned is not None:
            pinned = self.checkpoint_at(self._pinned)
            if pinned is None or pinned.tree_size <= leaf_index:
                return None, False
            anchored = self._conn.execute(
                "SELECT 1 FROM audit_anchors WHERE tree_size = %s AND chain_id = %s AND contract_address = %s",
                (pinned.tree_size, chain.chain_id, chain.contract_address or "")).fetchone()
            return pinned, anchored is not None
        row = self._conn.execute(
            f"SELECT {', '.join('c.' + c.strip() for c in CHECKPOINT_COLUMNS.split(','))} FROM audit_checkpoints c "
            f"JOIN audit_anchors a ON a.tree_size = c.tree_size AND a.chain_id = %s AND a.contract_address = %s "
            f"WHERE c.tree_size > %s ORDER BY c.tree_size DESC LIMIT 1",
            (chain.chain_id, chain.contract_address or "", leaf_index)).fetchone()
        if row is not None:
            return pg_store.checkpoint_from_row(self._service._origin, row), True
        latest = pg_store.latest_checkpoint(self._conn, self._service._origin)
        return (latest, False) if latest is not None and latest.tree_size > leaf_index else (None, False)

    def checkpoint_at(self, tree_size: int) -> CheckpointSealed | None:
        return pg_store.checkpoint_at(self._conn, self._service._origin, tree_size)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        try:
            return MerkleLog(self._store, tree_size).inclusion_proof(leaf_index, tree_size)
        except MissingNodeError:
            return []  # fails verification, and the diagnosis names what differs

    def differing_nodes(self, keys: Iterable[NodeKey]) -> list[tuple[NodeKey, bytes, bytes]]:
        found = []
        for level, index in keys:
            begin, end = index << level, (index + 1) << level
            rows = self._conn.execute("SELECT leaf_hash FROM audit_leaves WHERE leaf_index >= %s AND leaf_index < %s "
                                      "ORDER BY leaf_index", (begin, end)).fetchall()
            if len(rows) != end - begin:
                continue  # a missing leaf row: the log check reports it
            levels = subtree_levels([bytes(r[0]) for r in rows])
            stored = self._conn.execute(
                "SELECT level, idx, hash FROM audit_nodes WHERE level <= %s "
                "AND idx >= (%s::bigint << (%s - level)) AND idx < (%s::bigint << (%s - level))",
                (level, index, level, index + 1, level)).fetchall()
            for lvl, idx, value in stored:
                want = levels[lvl][idx - (index << (level - lvl))]
                if bytes(value) != want:
                    found.append(((lvl, idx), bytes(value), want))
        return sorted(found)

    def chain_anchor(self, tree_size: int) -> ChainAnchor | None:
        contract = self._service.contract()
        try:
            index = contract.find_by_size(tree_size)
        except Exception as exc:  # noqa: BLE001 - any RPC failure: the anchor cannot be checked now
            raise QueryError(503, "chain_unavailable", f"chain unreachable: {type(exc).__name__}") from None
        if index is None:
            return None
        anchor = contract.anchor_at(index)
        chain = self._service.chain
        return ChainAnchor(anchor.tree_size, anchor.root_hash, anchor.checkpoint_hash,
                           f"anchor #{index} of {chain.contract_address} on chain {chain.chain_id}")

    # StoredLog (whole-log check)

    def leaf_hashes(self) -> list[tuple[int, bytes]]:
        rows = self._conn.execute("SELECT leaf_index, leaf_hash FROM audit_leaves ORDER BY leaf_index").fetchall()
        return [(i, bytes(h)) for i, h in rows]

    def level_nodes(self, level: int) -> dict[int, bytes]:
        rows = self._conn.execute("SELECT idx, hash FROM audit_nodes WHERE level = %s", (level,)).fetchall()
        return {i: bytes(h) for i, h in rows}

    def checkpoints(self) -> list[CheckpointSealed]:
        rows = self._conn.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY tree_size").fetchall()
        return [pg_store.checkpoint_from_row(self._service._origin, r) for r in rows]

    def anchored_sizes(self) -> list[int]:
        chain = self._service.chain
        rows = self._conn.execute("SELECT DISTINCT tree_size FROM audit_anchors WHERE chain_id = %s AND "
                                  "contract_address = %s ORDER BY tree_size",
                                  (chain.chain_id, chain.contract_address or "")).fetchall()
        return [r[0] for r in rows]
