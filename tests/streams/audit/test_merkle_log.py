"""MerkleLog over a NodeStore: persistence, atomic batches and flat append cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from streams.audit.exceptions import (
    HashSizeError,
    IndexOutOfRangeError,
    MissingNodeError,
    NodeConflictError,
    TreeSizeError,
)
from streams.audit.merkle import (
    MemoryNodeStore,
    MerkleLog,
    NodeKey,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.streams.audit import rfc6962_reference


class CountingStore(MemoryNodeStore):
    """A MemoryNodeStore that records every call made to it."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[int] = []  # nodes written by each put_nodes call
        self.gets: list[int] = []  # keys asked for by each get_nodes call

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        self.gets.append(len(keys))
        return super().get_nodes(keys)

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        self.puts.append(len(nodes))
        super().put_nodes(nodes)


def entries(count: int, start: int = 0) -> list[bytes]:
    return [f"event-{n}".encode() for n in range(start, start + count)]


def test_append_returns_consecutive_leaf_indexes() -> None:
    log = MerkleLog(MemoryNodeStore())
    assert [log.append(entry) for entry in entries(3)] == [0, 1, 2]
    assert log.append_many(entries(4, 3)) == range(3, 7)
    assert log.append_leaf_hash(leaf_hash(b"x")) == 7
    assert log.size == 8


def test_appending_data_or_its_leaf_hash_gives_the_same_tree() -> None:
    by_data, by_hash = MerkleLog(MemoryNodeStore()), MerkleLog(MemoryNodeStore())
    by_data.append_many(entries(13))
    by_hash.append_leaf_hashes(leaf_hash(entry) for entry in entries(13))
    assert by_data.root() == by_hash.root() == rfc6962_reference.mth(entries(13))


def test_a_reopened_log_continues_where_it_stopped() -> None:
    store = MemoryNodeStore()
    MerkleLog(store).append_many(entries(37))
    reopened = MerkleLog(store, size=37)
    reopened.append_many(entries(6, 37))
    assert reopened.root() == rfc6962_reference.mth(entries(43))


def test_opening_reads_the_frontier_in_one_call() -> None:
    store = CountingStore()
    MerkleLog(store).append_many(entries(1000))
    store.gets.clear()
    MerkleLog(store, size=1000)
    assert store.gets == [bin(1000).count("1")]


def test_opening_at_a_size_the_store_does_not_hold_fails() -> None:
    store = MemoryNodeStore()
    MerkleLog(store).append_many(entries(5))
    with pytest.raises(MissingNodeError) as error:
        MerkleLog(store, size=6)
    assert error.value.keys == [(1, 2)]


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(TreeSizeError):
        MerkleLog(MemoryNodeStore(), size=-1)


def test_roots_of_past_sizes_read_only_the_subtrees_that_tile_them() -> None:
    store = CountingStore()
    log = MerkleLog(store)
    log.append_many(entries(100))
    store.gets.clear()
    assert log.root(77) == rfc6962_reference.mth(entries(77))
    assert store.gets == [bin(77).count("1")]


def test_proofs_fetch_their_nodes_in_one_call() -> None:
    store = CountingStore()
    log = MerkleLog(store)
    log.append_many(entries(1000))
    store.gets.clear()
    log.inclusion_proof(417, 999)
    log.consistency_proof(333, 999)
    assert len(store.gets) == 2


def test_proofs_against_past_sizes_verify() -> None:
    log = MerkleLog(MemoryNodeStore())
    log.append_many(entries(50))
    proof = log.inclusion_proof(20, 33)
    verify_inclusion(leaf_hash(entries(50)[20]), 20, 33, proof, log.root(33))
    verify_consistency(21, 33, log.root(21), log.root(33), log.consistency_proof(21, 33))


def test_proofs_beyond_the_log_are_refused() -> None:
    log = MerkleLog(MemoryNodeStore())
    log.append_many(entries(4))
    with pytest.raises(TreeSizeError):
        log.root(5)
    with pytest.raises(TreeSizeError):
        log.inclusion_proof(0, 5)
    with pytest.raises(IndexOutOfRangeError):
        log.inclusion_proof(4)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(0, 4)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(3, 5)


def test_a_batch_is_written_with_one_put() -> None:
    store = CountingStore()
    MerkleLog(store).append_many(entries(1000))
    # Complete subtrees of 1000 leaves: sum of 1000 // 2**level = 2 * 1000 - popcount(1000).
    assert store.puts == [1994]


def test_a_batch_refused_by_the_store_leaves_the_log_unchanged() -> None:
    store = MemoryNodeStore()
    MerkleLog(store).append_many(entries(3))
    rival = MerkleLog(store, size=2)  # a second writer that missed leaf 2
    before = rival.root()
    with pytest.raises(NodeConflictError) as error:
        rival.append_many([b"forked", b"more"])
    assert error.value.key == (0, 2)
    assert (rival.size, rival.root()) == (2, before)
    assert len(store) == 4  # nothing of the refused batch was written


def test_a_bad_leaf_hash_fails_the_whole_batch() -> None:
    store = CountingStore()
    log = MerkleLog(store)
    with pytest.raises(HashSizeError):
        log.append_leaf_hashes([leaf_hash(b"a"), b"short"])
    assert (log.size, store.puts) == (0, [])


def test_replaying_a_batch_after_a_crash_is_harmless() -> None:
    # At-least-once delivery: the nodes were stored, the new size was not.
    store = MemoryNodeStore()
    MerkleLog(store).append_many(entries(10))
    replayed = MerkleLog(store, size=6)
    replayed.append_many(entries(4, 6))
    assert replayed.root() == rfc6962_reference.mth(entries(10))


def test_nodes_written_per_append_are_bounded_by_log2_of_the_size_plus_one() -> None:
    store = CountingStore()
    log = MerkleLog(store)
    for entry in entries(4096):
        log.append(entry)
    # The append that makes the size n writes the leaf and one parent per
    # trailing one bit of n - 1, which is at most log2(n) + 1 nodes.
    for size, written in enumerate(store.puts, start=1):
        assert written <= size.bit_length(), (size, written)
    assert max(store.puts) == 13  # the 4096th leaf completes 12 parents


def test_nodes_written_per_append_average_at_most_two() -> None:
    store = CountingStore()
    log = MerkleLog(store)
    for count, entry in enumerate(entries(5000), start=1):
        log.append(entry)
        assert sum(store.puts) <= 2 * count
    assert sum(store.puts) == len(store) == 2 * 5000 - bin(5000).count("1")


def test_appending_reads_nothing_from_the_store() -> None:
    store = CountingStore()
    log = MerkleLog(store)
    for entry in entries(300):
        log.append(entry)
    log.root()
    assert store.gets == []
