"""Sealing: a signed checkpoint of the log's current size, with the consistency proof from the previous one."""

from __future__ import annotations

import pytest

from streams.audit.checkpoint import open_checkpoint
from streams.audit.exceptions import TreeSizeError
from streams.audit.merkle import MemoryNodeStore, MerkleLog, verify_consistency
from streams.audit.sealing import seal
from tests.streams.audit.fakes import KEY, ORIGIN


def test_a_checkpoint_signs_the_size_and_root_and_proves_it_extends_the_previous():
    log = MerkleLog(MemoryNodeStore())
    log.append_many([b"a", b"b", b"c"])
    first = seal(log, ORIGIN, KEY, None, 1)
    log.append_many([b"d", b"e"])
    second = seal(log, ORIGIN, KEY, first, 2)
    body = open_checkpoint(second.note, ORIGIN, KEY.public_key(), origin=ORIGIN)
    assert (body.size, body.root_hash, body.timestamp_ms) == (5, log.root(), 2)
    assert (first.previous_size, first.consistency_proof) == (None, ())
    assert second.previous_size == 3
    verify_consistency(3, 5, first.root_hash, second.root_hash, second.consistency_proof)


def test_a_log_that_did_not_grow_is_not_sealed_again():
    log = MerkleLog(MemoryNodeStore())
    log.append(b"a")
    first = seal(log, ORIGIN, KEY, None, 1)
    with pytest.raises(TreeSizeError):
        seal(log, ORIGIN, KEY, first, 2)
    with pytest.raises(TreeSizeError):
        seal(MerkleLog(MemoryNodeStore()), ORIGIN, KEY, None, 1)
