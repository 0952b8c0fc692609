"""Contract of the NodeStore port, run against every adapter.

To check a new adapter, add a factory to STORE_FACTORIES (for Postgres, one
that yields a store on a fresh schema and drops it afterwards).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from streams.audit.exceptions import NodeConflictError
from streams.audit.merkle import MemoryNodeStore, MerkleLog, NodeStore, leaf_hash

STORE_FACTORIES: dict[str, Callable[[], NodeStore]] = {
    "memory": MemoryNodeStore,
}

A, B, C = leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest) -> Iterator[NodeStore]:
    yield STORE_FACTORIES[request.param]()


def test_stored_nodes_are_read_back(store: NodeStore) -> None:
    store.put_nodes({(0, 0): A, (0, 1): B, (1, 0): C})
    assert store.get_nodes([(1, 0), (0, 1)]) == {(1, 0): C, (0, 1): B}


def test_absent_keys_are_left_out(store: NodeStore) -> None:
    store.put_nodes({(0, 0): A})
    assert store.get_nodes([(0, 0), (0, 1), (5, 3)]) == {(0, 0): A}


def test_asking_for_no_keys_returns_nothing(store: NodeStore) -> None:
    assert store.get_nodes([]) == {}


def test_rewriting_a_node_with_the_same_hash_is_accepted(store: NodeStore) -> None:
    store.put_nodes({(0, 0): A})
    store.put_nodes({(0, 0): A, (0, 1): B})
    assert store.get_nodes([(0, 0), (0, 1)]) == {(0, 0): A, (0, 1): B}


def test_rewriting_a_node_with_another_hash_is_refused(store: NodeStore) -> None:
    store.put_nodes({(0, 0): A})
    with pytest.raises(NodeConflictError) as error:
        store.put_nodes({(0, 0): B})
    assert (error.value.key, error.value.got, error.value.want) == ((0, 0), B, A)


def test_a_refused_batch_writes_nothing(store: NodeStore) -> None:
    store.put_nodes({(0, 1): A})
    with pytest.raises(NodeConflictError):
        store.put_nodes({(0, 0): A, (0, 1): B, (0, 2): C})
    assert store.get_nodes([(0, 0), (0, 1), (0, 2)]) == {(0, 1): A}


def test_large_indexes_and_levels_round_trip(store: NodeStore) -> None:
    key = (40, 2**23 - 1)  # a tree of 2**63 leaves
    store.put_nodes({key: C})
    assert store.get_nodes([key]) == {key: C}


def test_a_log_over_the_store_survives_reopening(store: NodeStore) -> None:
    log = MerkleLog(store)
    log.append_many([b"%d" % n for n in range(21)])
    assert MerkleLog(store, size=21).root() == log.root()
