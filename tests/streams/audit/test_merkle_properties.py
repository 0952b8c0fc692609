"""Property tests: random trees against pymerkle 7 and the naive RFC 6962 oracle.

pymerkle 7 builds the same RFC 6962 tree, so roots and inclusion paths must be
equal (its path starts with the leaf hash itself). Its consistency proofs use
their own layout (they carry the base node and split differently), so ours
are compared with the RFC's PROOF instead, and pymerkle only has to accept
our roots.
"""

from __future__ import annotations

import random

import pymerkle
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.audit.merkle import (
    MemoryNodeStore,
    MerkleLog,
    is_valid_consistency,
    is_valid_inclusion,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.streams.audit import rfc6962_reference

MAX_SIZE = 300
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def random_leaves(seed: int, size: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(0, 65)) for _ in range(size)]


def both_trees(leaves: list[bytes]) -> tuple[MerkleLog, pymerkle.InmemoryTree]:
    log = MerkleLog(MemoryNodeStore())
    log.append_many(leaves)
    tree = pymerkle.InmemoryTree()  # defaults: sha256, RFC 6962 prefixes
    for leaf in leaves:
        tree.append_entry(leaf)
    return log, tree


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    """Leaves of a log, a tree size within it and a leaf index below that size."""
    total = draw(st.integers(1, MAX_SIZE))
    size = draw(st.integers(1, total))
    leaves = random_leaves(draw(st.integers(0, 2**32)), total)
    return leaves, size, draw(st.integers(0, size - 1))


@st.composite
def tree_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    """Leaves of a log and sizes 0 < first <= second within it."""
    total = draw(st.integers(1, MAX_SIZE))
    second = draw(st.integers(1, total))
    leaves = random_leaves(draw(st.integers(0, 2**32)), total)
    return leaves, draw(st.integers(1, second)), second


@PROPERTY_SETTINGS
@given(tree_and_index())
def test_roots_equal_pymerkles_at_every_size(case: tuple[list[bytes], int, int]) -> None:
    leaves, size, _ = case
    log, tree = both_trees(leaves)
    assert log.root(size) == tree.get_root(size) == rfc6962_reference.mth(leaves[:size])
    assert log.root() == tree.get_root() == root_from_leaf_hashes(map(leaf_hash, leaves))


@PROPERTY_SETTINGS
@given(tree_and_index())
def test_inclusion_proofs_equal_pymerkles_and_verify(case: tuple[list[bytes], int, int]) -> None:
    leaves, size, index = case
    log, tree = both_trees(leaves)
    proof = log.inclusion_proof(index, size)
    theirs = tree.prove_inclusion(index + 1, size)  # pymerkle counts from one
    assert [leaf_hash(leaves[index]), *proof] == theirs.path
    assert proof == rfc6962_reference.path(index, leaves[:size])
    verify_inclusion(leaf_hash(leaves[index]), index, size, proof, log.root(size))


@PROPERTY_SETTINGS
@given(tree_and_sizes())
def test_consistency_proofs_follow_the_rfc_and_verify(case: tuple[list[bytes], int, int]) -> None:
    leaves, first, second = case
    log, tree = both_trees(leaves)
    proof = log.consistency_proof(first, second)
    assert proof == rfc6962_reference.proof(first, leaves[:second])
    verify_consistency(first, second, log.root(first), log.root(second), proof)
    theirs = tree.prove_consistency(first, second)
    pymerkle.verify_consistency(log.root(first), log.root(second), theirs)


@PROPERTY_SETTINGS
@given(tree_and_index(), st.data())
def test_changing_any_byte_of_an_inclusion_proof_fails(
    case: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    leaves, size, index = case
    log, _ = both_trees(leaves)
    leaf, root = leaf_hash(leaves[index]), log.root(size)
    proof = log.inclusion_proof(index, size)
    values = [root, *proof]  # position 0 is the root, the rest the proof
    position = data.draw(st.integers(0, len(values) - 1))
    values[position] = flip_a_byte(values[position], data)
    assert not is_valid_inclusion(leaf, index, size, values[1:], values[0])


@PROPERTY_SETTINGS
@given(tree_and_sizes(), st.data())
def test_changing_any_byte_of_a_consistency_proof_fails(
    case: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    leaves, first, second = case
    log, _ = both_trees(leaves)
    proof = log.consistency_proof(first, second)
    values = [log.root(first), log.root(second), *proof]
    position = data.draw(st.integers(0, len(values) - 1))
    values[position] = flip_a_byte(values[position], data)
    assert not is_valid_consistency(first, second, values[0], values[1], values[2:])


def flip_a_byte(value: bytes, data: st.DataObject) -> bytes:
    offset = data.draw(st.integers(0, len(value) - 1))
    mask = data.draw(st.integers(1, 255))
    return value[:offset] + bytes([value[offset] ^ mask]) + value[offset + 1 :]
