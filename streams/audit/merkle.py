"""RFC 6962 Merkle tree hashing, an append-only log over a node store, proofs.

Hashes follow RFC 6962 section 2.1 (the tree Certificate Transparency and
transparency-dev/merkle use): a leaf hash is SHA-256(0x00 || data), an
interior node is SHA-256(0x01 || left || right), and a tree of n > 1 leaves
splits at k, the largest power of two strictly smaller than n. The empty tree
hashes to SHA-256 of the empty string.

The log persists only *complete* subtrees. The node at (level, index) is the
root of the perfect subtree over leaves [index * 2**level, (index + 1) *
2**level); level 0 holds the leaf hashes. Such a node never changes once its
last leaf is appended, so every node is written exactly once, and the root of
any past tree size folds the O(log n) complete subtrees that tile it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence

from streams.audit.exceptions import (
    HashSizeError,
    IndexOutOfRangeError,
    MissingNodeError,
    NodeConflictError,
    ProofError,
    ProofLengthError,
    RootMismatchError,
    TreeSizeError,
)

# Domain separation (RFC 6962 section 2.1): a leaf can never be read as an
# interior node, which defeats second-preimage attacks on the tree.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""(level, index) of a complete subtree; see the module docstring."""

_sha256 = hashlib.sha256


# --- Hashing -----------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of a leaf holding ``data``."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node with these children."""
    return _sha256(NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """Return the root of the tree whose leaves have these hashes, in order.

    Runs in O(n) hashes and O(log n) memory; no hashes means the empty tree.
    """
    stack: list[bytes] = []
    for count, value in enumerate(hashes):
        # Merging on every trailing one bit of the count keeps the stack equal
        # to the complete subtrees of the tree so far, largest first.
        while count & 1:
            value = _sha256(NODE_PREFIX + stack.pop() + value).digest()
            count >>= 1
        stack.append(value)
    return fold_subtrees(stack) if stack else EMPTY_ROOT


def fold_subtrees(roots: Sequence[bytes]) -> bytes:
    """Return the hash of adjacent complete subtrees, given largest first.

    Precondition: ``roots`` is non-empty and tiles a node of the RFC 6962
    recursion (as ``range_keys`` produces), so that the hash of the range is
    node(roots[0], node(roots[1], ... roots[-1])).
    """
    result = roots[-1]
    for position in range(len(roots) - 2, -1, -1):
        result = _sha256(NODE_PREFIX + roots[position] + result).digest()
    return result


# --- Tree layout (pure functions of sizes and indexes) ------------------------


def split_point(width: int) -> int:
    """Return the largest power of two strictly smaller than ``width`` (>= 2)."""
    return 1 << ((width - 1).bit_length() - 1)


def range_keys(begin: int, end: int) -> list[NodeKey]:
    """Return the complete subtrees tiling leaves [begin, end), left to right.

    Precondition: ``begin`` is a multiple of the smallest power of two that is
    at least ``end - begin``, which holds for [0, n) and for every node of the
    RFC 6962 recursion; the tiles then come largest first.
    """
    keys: list[NodeKey] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            # A subtree must start at a multiple of its own width.
            level = min(level, (begin & -begin).bit_length() - 1)
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose hashes form PATH(index, D[0:size]).

    RFC 6962 section 2.1.1; ranges are half-open and ordered from the leaf's
    sibling up to the root's child. Precondition: 0 <= index < size.
    """
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose hashes form PROOF(first, D[0:second]).

    RFC 6962 section 2.1.2 (SUBPROOF), ordered as the RFC concatenates them.
    Precondition: 0 < first <= second.
    """
    ranges: list[tuple[int, int]] = []
    start, prior, width = 0, first, second
    on_left_edge = True  # the RFC's flag b: D[0:first] is the current node
    while prior != width:
        k = split_point(width)
        if prior <= k:
            ranges.append((start + k, start + width))
            width = k
        else:
            ranges.append((start, start + k))
            start, prior, width = start + k, prior - k, width - k
            on_left_edge = False
    if not on_left_edge:
        # A verifier knows the first root but not this inner node.
        ranges.append((start, start + width))
    ranges.reverse()
    return ranges


def inclusion_proof_length(index: int, size: int) -> int:
    """Return the number of hashes in an inclusion proof (0 <= index < size)."""
    # Below level `inner` the paths to the leaf and to the last leaf differ,
    # so each level has a sibling; above it the path follows the right border,
    # which has a left sibling exactly where the index has a one bit.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(first: int, second: int) -> int:
    """Return the number of hashes in a consistency proof (0 < first <= second)."""
    if first == second:
        return 0
    # The proof is the inclusion proof of the last complete subtree of the
    # first tree (at level `shift`), plus that subtree's own hash unless it is
    # the whole first tree, which the verifier already knows.
    shift = (first & -first).bit_length() - 1
    known = 0 if first == 1 << shift else 1
    return known + inclusion_proof_length((first - 1) >> shift, ((second - 1) >> shift) + 1)


# --- Verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ----------------------


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise HashSizeError(len(value), HASH_SIZE, what)


def _check_proof(proof: Sequence[bytes], want: int) -> None:
    if len(proof) != want:
        raise ProofLengthError(len(proof), want)
    for value in proof:
        if len(value) != HASH_SIZE:
            raise HashSizeError(len(value), HASH_SIZE, "proof hash")


def root_from_inclusion_proof(
    leaf: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that ``proof`` yields for ``leaf`` at ``leaf_index``.

    Preconditions, checked first: 0 <= leaf_index < tree_size, ``proof`` has
    ``inclusion_proof_length`` hashes, and every hash is 32 bytes.
    """
    if not 0 <= leaf_index < tree_size:
        raise IndexOutOfRangeError(leaf_index, tree_size)
    _check_hash(leaf, "leaf hash")
    want = inclusion_proof_length(leaf_index, tree_size)
    _check_proof(proof, want)
    # RFC 9162 also fails if sn reaches 0 before the proof ends or is not 0
    # after it; the exact length check above rules out both.
    fn, sn, result = leaf_index, tree_size - 1, leaf
    for sibling in proof:
        if fn & 1 or fn == sn:
            result = _sha256(NODE_PREFIX + sibling + result).digest()
            # Climb past levels where the node is on the right border alone.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            result = _sha256(NODE_PREFIX + result + sibling).digest()
        fn >>= 1
        sn >>= 1
    return result


def verify_inclusion(
    leaf: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` is leaf ``leaf_index`` of the tree of ``tree_size``.

    Raises a ``ProofError`` (``RootMismatchError`` carrying both roots when
    the proof is well formed but wrong); see ``root_from_inclusion_proof``.
    Take ``tree_size`` and ``root`` from the same signed checkpoint: hashes
    alone cannot tell a leaf from a subtree, so a proof for one size also
    passes for another size whose proof has the same shape.
    """
    _check_hash(root, "root")
    got = root_from_inclusion_proof(leaf, leaf_index, tree_size, proof)
    if got != root:
        raise RootMismatchError(got, root)


def _chain_consistency(
    first: int, second: int, seed: bytes, path: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Return (first root, second root) computed as RFC 9162 2.1.4.2 says.

    Precondition: the caller checked the sizes and the proof length, which
    rules out the RFC's failures on sn (0 too early, or not 0 at the end).
    """
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_root = second_root = seed
    for node in path:
        if fn & 1 or fn == sn:
            first_root = _sha256(NODE_PREFIX + node + first_root).digest()
            second_root = _sha256(NODE_PREFIX + node + second_root).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            second_root = _sha256(NODE_PREFIX + second_root + node).digest()
        fn >>= 1
        sn >>= 1
    return first_root, second_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of size ``first`` is a prefix of the one of ``second``.

    Preconditions, checked first: 0 < first <= second, both roots and every
    proof hash are 32 bytes, and ``proof`` has ``consistency_proof_length``
    hashes (none when the sizes are equal, and then the roots must be equal).
    Raises a ``ProofError``; ``RootMismatchError.what`` names the root.
    """
    if not 0 < first <= second:
        raise TreeSizeError(first, f"0 < first <= second ({second})")
    _check_hash(first_root, "first root")
    _check_hash(second_root, "second root")
    _check_proof(proof, consistency_proof_length(first, second))
    if first == second:
        if first_root != second_root:
            raise RootMismatchError(first_root, second_root, "second root")
        return
    if first & (first - 1) == 0:
        # The first tree is one complete subtree: its root starts the chain.
        seed, path = first_root, proof
    else:
        seed, path = proof[0], proof[1:]
    got_first, got_second = _chain_consistency(first, second, seed, path)
    if got_first != first_root:
        raise RootMismatchError(got_first, first_root, "first root")
    if got_second != second_root:
        raise RootMismatchError(got_second, second_root, "second root")


def is_valid_inclusion(
    leaf: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Return whether ``verify_inclusion`` accepts these arguments."""
    try:
        verify_inclusion(leaf, leaf_index, tree_size, proof, root)
    except ProofError:
        return False
    return True


def is_valid_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Return whether ``verify_consistency`` accepts these arguments."""
    try:
        verify_consistency(first, second, first_root, second_root, proof)
    except ProofError:
        return False
    return True


# --- Storage port and in-memory adapter ----------------------------------------


class NodeStore(ABC):
    """Port: where a log keeps its complete-subtree hashes, keyed by NodeKey.

    Contract (tests/streams/audit/test_node_store.py checks every adapter):
    - ``put_nodes`` stores all the given nodes or none of them;
    - keys are write-once: rewriting a node with the same hash is a no-op (so
      replaying a batch is safe), a different hash raises NodeConflictError;
    - ``get_nodes`` returns the hashes of the requested keys it holds and
      leaves absent keys out.
    Both take whole batches so that an adapter can make one round trip.
    """

    @abstractmethod
    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Return {key: hash} for the requested keys that are stored."""

    @abstractmethod
    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        """Store these nodes atomically; raise NodeConflictError on a clash."""


class MemoryNodeStore(NodeStore):
    """NodeStore in a dict: for tests, benchmarks and single-process tools."""

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        nodes = self._nodes
        return {key: nodes[key] for key in keys if key in nodes}

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        stored = self._nodes
        # Check the whole batch before writing so a clash leaves no trace.
        for key, value in nodes.items():
            old = stored.get(key)
            if old is not None and old != value:
                raise NodeConflictError(key, value, old)
        stored.update(nodes)


# --- The log ---------------------------------------------------------------------


class MerkleLog:
    """An append-only RFC 6962 log whose nodes live in a NodeStore.

    The log keeps the complete subtrees of its current tree in memory (at most
    log2(n) + 1 hashes), so appending reads nothing and writes each leaf plus
    the parents it completes: amortised 2 nodes, at most log2(n) + 1. Roots of
    past sizes and proofs fetch what they need in one ``get_nodes`` call.

    One writer per store; an instance is not thread-safe.
    """

    __slots__ = ("_store", "_size", "_frontier")

    def __init__(self, store: NodeStore, size: int = 0) -> None:
        """Open the log of ``size`` leaves held in ``store`` (0: a new log).

        The size is the caller's committed record (for instance next to its
        consumer offset); the store must hold every node of that tree.
        """
        if size < 0:
            raise TreeSizeError(size, ">= 0")
        self._store = store
        self._size = size
        self._frontier: list[bytes] = self._fetch(range_keys(0, size))

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, data: bytes) -> int:
        """Append a leaf holding ``data``; return its index."""
        return self.append_leaf_hashes((leaf_hash(data),)).start

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Append a leaf by its RFC 6962 leaf hash; return its index."""
        return self.append_leaf_hashes((leaf,)).start

    def append_many(self, entries: Iterable[bytes]) -> range:
        """Append a leaf for each entry in one ``put_nodes``; return their indexes."""
        return self.append_leaf_hashes(map(leaf_hash, entries))

    def append_leaf_hashes(self, leaves: Iterable[bytes]) -> range:
        """Append leaves by their leaf hashes in one ``put_nodes`` call.

        All or nothing: the log changes only once the store accepted the batch.
        If the caller's transaction around ``put_nodes`` later rolls back,
        discard this instance and reopen the log at the committed size.
        """
        start = size = self._size
        frontier = self._frontier.copy()
        writes: dict[NodeKey, bytes] = {}
        for value in leaves:
            if len(value) != HASH_SIZE:
                raise HashSizeError(len(value), HASH_SIZE, "leaf hash")
            writes[(0, size)] = value
            level, index = 0, size
            while index & 1:  # each trailing one bit completes a parent
                value = _sha256(NODE_PREFIX + frontier.pop() + value).digest()
                level, index = level + 1, index >> 1
                writes[(level, index)] = value
            frontier.append(value)
            size += 1
        if writes:
            self._store.put_nodes(writes)
        self._size, self._frontier = size, frontier
        return range(start, size)

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the tree of the first ``size`` leaves (default: all)."""
        size = self._checked_size(size)
        if size == 0:
            return EMPTY_ROOT
        if size == self._size:
            return fold_subtrees(self._frontier)
        return fold_subtrees(self._fetch(range_keys(0, size)))

    def inclusion_proof(self, leaf_index: int, tree_size: int | None = None) -> list[bytes]:
        """Return the RFC 6962 audit path of a leaf in the tree of ``tree_size``.

        Preconditions: 0 <= leaf_index < tree_size <= size (default: size).
        """
        tree_size = self._checked_size(tree_size)
        if not 0 <= leaf_index < tree_size:
            raise IndexOutOfRangeError(leaf_index, tree_size)
        return self._range_hashes(inclusion_ranges(leaf_index, tree_size))

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """Return the RFC 6962 consistency proof from size ``first`` to ``second``.

        Preconditions: 0 < first <= second <= size (default: size).
        """
        second = self._checked_size(second)
        if not 0 < first <= second:
            raise TreeSizeError(first, f"0 < first <= second ({second})")
        return self._range_hashes(consistency_ranges(first, second))

    def _checked_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise TreeSizeError(size, f"0 <= size <= {self._size}")
        return size

    def _range_hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        tiles = [range_keys(begin, end) for begin, end in ranges]
        # One round trip for every node of the proof.
        nodes = self._fetch_map([key for keys in tiles for key in keys])
        return [fold_subtrees([nodes[key] for key in keys]) for keys in tiles]

    def _fetch(self, keys: list[NodeKey]) -> list[bytes]:
        nodes = self._fetch_map(keys)
        return [nodes[key] for key in keys]

    def _fetch_map(self, keys: list[NodeKey]) -> dict[NodeKey, bytes]:
        if not keys:
            return {}
        nodes = self._store.get_nodes(keys)
        missing = [key for key in keys if key not in nodes]
        if missing:
            raise MissingNodeError(missing)
        return nodes
