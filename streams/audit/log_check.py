"""Checking the whole stored log at once: every row, node, checkpoint and anchor, each failure named.

Unlike ``verify_leaf``, every step runs even after a failure, so one report lists everything that is wrong:
  1. leaf_sequence           leaf rows are exactly 0 .. size-1
  2. leaf_nodes              each leaf row's hash equals the stored level-0 node
  3. interior_nodes          every stored interior node equals its recomputation from the leaves
  4. checkpoint_signatures   every checkpoint verifies under the log's key and matches its stored columns
  5. checkpoint_roots        the root recomputed at each checkpoint's size equals its signed root
  6. checkpoint_consistency  each stored consistency proof verifies against the previous checkpoint
  7. anchors                 every anchor of the read model is on chain with the checkpoint's root
Leaf rows are the source of truth for recomputation (a missing row falls back to its level-0 node); whether
the rows match Kafka is what ``verify_leaf`` and ``acgs audit verify`` check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from streams.audit.exceptions import ProofError
from streams.audit.merkle import EMPTY_ROOT, NODE_PREFIX, fold_subtrees, verify_consistency
from streams.audit.records import CheckpointSealed, note_hash
from streams.audit.verification import ChainAnchor, LogKey, Verification, checkpoint_failure

SHOWN = 8  # failures listed per step; the count says how many there are


class StoredLog(Protocol):
    """Port: bulk reads of the stored log."""

    def log_size(self) -> int: ...

    def leaf_hashes(self) -> list[tuple[int, bytes]]:
        """(leaf_index, leaf_hash) of every leaf row, by index."""

    def level_nodes(self, level: int) -> dict[int, bytes]: ...

    def checkpoints(self) -> list[CheckpointSealed]:
        """Every checkpoint, by tree size."""

    def anchored_sizes(self) -> list[int]: ...

    def chain_anchor(self, tree_size: int) -> ChainAnchor | None: ...


def _listed(items: Sequence[str]) -> str:
    more = f" (and {len(items) - SHOWN} more)" if len(items) > SHOWN else ""
    return "; ".join(items[:SHOWN]) + more


def verify_log(log: StoredLog, key: LogKey) -> Verification:
    report = Verification()
    size = log.log_size()
    level0 = _check_leaves(log, size, report)
    recomputed = _check_interior(log, level0, report)
    checkpoints = log.checkpoints()
    _check_checkpoints(checkpoints, key, recomputed, report)
    _check_anchors(log, {cp.tree_size: cp for cp in checkpoints}, recomputed, report)
    return report


def _check_leaves(log: StoredLog, size: int, report: Verification) -> list[bytes]:
    rows = dict(log.leaf_hashes())
    nodes = log.level_nodes(0)
    missing = [i for i in range(size) if i not in rows]
    extra = sorted(i for i in rows if not 0 <= i < size)
    if missing or extra:
        report.fail("leaf_sequence", _listed([f"leaf {i} missing" for i in missing] +
                                             [f"leaf {i} beyond the log size {size}" for i in extra]))
    else:
        report.ok("leaf_sequence", f"leaves 0..{size - 1} present" if size else "the log is empty")
    differing = [i for i in range(size) if i in rows and nodes.get(i) != rows[i]]
    if differing:
        report.fail("leaf_nodes", _listed([f"leaf {i}: row {rows[i].hex()}, node "
                                           f"{nodes[i].hex() if i in nodes else 'missing'}" for i in differing]))
    else:
        report.ok("leaf_nodes", f"{size} level-0 nodes match their leaf rows")
    return [rows.get(i, nodes.get(i, EMPTY_ROOT)) for i in range(size)]


def _check_interior(log: StoredLog, level0: list[bytes], report: Verification) -> list[bytes]:
    current, level, wrong, checked = level0, 0, [], 0
    while len(current) > 1:
        level += 1
        parents = [hashlib.sha256(NODE_PREFIX + current[i] + current[i + 1]).digest()
                   for i in range(0, len(current) - 1, 2)]
        stored = log.level_nodes(level)
        for index, want in enumerate(parents):
            got = stored.get(index)
            if got != want:
                wrong.append(f"node ({level},{index}) stored {got.hex() if got else 'missing'}, "
                             f"recomputed {want.hex()}")
        checked += len(parents)
        current = parents  # recomputed, so one altered node does not make its ancestors look altered
    if wrong:
        report.fail("interior_nodes", _listed(wrong))
    else:
        report.ok("interior_nodes", f"{checked} interior nodes recomputed from the leaves")
    return level0


def roots_at(level0: list[bytes], sizes: Sequence[int]) -> dict[int, bytes]:
    """Roots of the first n leaves for each n in ``sizes``, in one pass over ``level0``."""
    wanted, stack = set(sizes), []
    roots = {0: EMPTY_ROOT} if 0 in wanted else {}
    for count, value in enumerate(level0):
        size = count + 1
        while count & 1:  # the stack holds the complete subtrees of the first `size` leaves
            value = hashlib.sha256(NODE_PREFIX + stack.pop() + value).digest()
            count >>= 1
        stack.append(value)
        if size in wanted:
            roots[size] = fold_subtrees(stack)
    return roots


def _check_checkpoints(checkpoints: list[CheckpointSealed], key: LogKey, level0: list[bytes],
                       report: Verification) -> None:
    bad = [f"size {cp.tree_size}: {failure[0]}" for cp in checkpoints
           if (failure := checkpoint_failure(cp, key)) is not None]
    if bad:
        report.fail("checkpoint_signatures", _listed(bad))
    else:
        report.ok("checkpoint_signatures", f"{len(checkpoints)} checkpoints signed by {key.key_name}")
    beyond = [cp.tree_size for cp in checkpoints if cp.tree_size > len(level0)]
    roots = roots_at(level0, [cp.tree_size for cp in checkpoints if cp.tree_size <= len(level0)])
    wrong = [f"size {cp.tree_size}: signed {cp.root_hash.hex()}, recomputed {roots[cp.tree_size].hex()}"
             for cp in checkpoints if cp.tree_size in roots and roots[cp.tree_size] != cp.root_hash]
    wrong += [f"size {s}: beyond the log's {len(level0)} leaves" for s in beyond]
    if wrong:
        report.fail("checkpoint_roots", _listed(wrong))
    else:
        report.ok("checkpoint_roots", f"{len(checkpoints)} roots recomputed from the leaves")
    _check_consistency(checkpoints, report)


def _check_consistency(checkpoints: list[CheckpointSealed], report: Verification) -> None:
    by_size = {cp.tree_size: cp for cp in checkpoints}
    wrong = []
    for cp in checkpoints:
        if cp.previous_size is None:
            continue
        previous = by_size.get(cp.previous_size)
        if previous is None:
            wrong.append(f"size {cp.tree_size}: previous checkpoint {cp.previous_size} missing")
            continue
        try:
            verify_consistency(previous.tree_size, cp.tree_size, previous.root_hash, cp.root_hash,
                               cp.consistency_proof)
        except ProofError as exc:
            wrong.append(f"{previous.tree_size} -> {cp.tree_size}: {exc}")
    if wrong:
        report.fail("checkpoint_consistency", _listed(wrong))
    else:
        report.ok("checkpoint_consistency", f"{len(checkpoints)} checkpoints form one consistent history")


def _check_anchors(log: StoredLog, checkpoints: dict[int, CheckpointSealed], level0: list[bytes],
                   report: Verification) -> None:
    sizes = log.anchored_sizes()
    roots = roots_at(level0, [s for s in sizes if s <= len(level0)])
    wrong = []
    for size in sizes:
        anchor, cp = log.chain_anchor(size), checkpoints.get(size)
        if anchor is None:
            wrong.append(f"size {size}: no anchor of that size on chain")
        elif cp is None:
            wrong.append(f"size {size}: anchored on chain but no checkpoint of that size is stored")
        elif anchor.root_hash != cp.root_hash or anchor.checkpoint_hash != note_hash(cp.note):
            wrong.append(f"size {size}: {anchor.where} holds root {anchor.root_hash.hex()}, "
                         f"checkpoint root {cp.root_hash.hex()}")
        elif roots.get(size) != anchor.root_hash:
            wrong.append(f"size {size}: anchored root differs from the root recomputed from the leaves")
    if wrong:
        report.fail("anchors", _listed(wrong))
    else:
        report.ok("anchors", f"{len(sizes)} anchors found on chain with the log's roots")
