"""verify_log: every step runs, and each tampering of the stored log is listed by position."""

from __future__ import annotations

import dataclasses

import pytest

from streams.audit.log_check import roots_at, verify_log
from streams.audit.merkle import MemoryNodeStore, MerkleLog, leaf_hash
from tests.streams.audit.fakes import FakeEvidence, build_log

FORGED = b"\xee" * 32


def failures(evidence: FakeEvidence) -> dict[str, str]:
    report = verify_log(evidence, evidence.built.log_key)
    assert [s.name for s in report.steps] == ["leaf_sequence", "leaf_nodes", "interior_nodes",
                                              "checkpoint_signatures", "checkpoint_roots", "checkpoint_consistency",
                                              "anchors"]
    return {s.name: s.detail for s in report.steps if s.status == "failed"}


def test_an_untouched_log_passes_every_step():
    assert failures(FakeEvidence(build_log())) == {}


def test_a_deleted_leaf_row_is_named_and_the_tree_is_still_checked_from_its_node():
    evidence = FakeEvidence(build_log())
    del evidence.leaf_rows[9]
    assert failures(evidence) == {"leaf_sequence": "leaf 9 missing"}


def test_an_altered_leaf_row_fails_its_node_and_every_root_above_it():
    evidence = FakeEvidence(build_log())
    evidence.leaf_rows[9] = dataclasses.replace(evidence.leaf_rows[9], leaf_hash=FORGED)
    found = failures(evidence)
    assert set(found) == {"leaf_nodes", "interior_nodes", "checkpoint_roots", "anchors"}
    assert found["leaf_nodes"].startswith(f"leaf 9: row {FORGED.hex()}")
    assert "size 13:" in found["checkpoint_roots"] and "size 5:" not in found["checkpoint_roots"]


def test_an_altered_interior_node_is_the_only_one_named():
    evidence = FakeEvidence(build_log())
    evidence.nodes._nodes[(2, 1)] = FORGED
    found = failures(evidence)
    assert set(found) == {"interior_nodes"}
    assert found["interior_nodes"].startswith(f"node (2,1) stored {FORGED.hex()}, recomputed ")
    assert ";" not in found["interior_nodes"]  # its ancestors were not blamed


def test_a_missing_interior_node_is_named():
    evidence = FakeEvidence(build_log())
    del evidence.nodes._nodes[(3, 0)]
    assert failures(evidence)["interior_nodes"].startswith("node (3,0) stored missing")


def test_a_checkpoint_signed_by_another_key_and_a_chain_anchor_that_differs_are_named():
    evidence = FakeEvidence(build_log())
    cp = evidence.checkpoint_rows[5]
    evidence.checkpoint_rows[5] = dataclasses.replace(cp, note=cp.note.replace("\n5\n", "\n4\n"))
    evidence.chain[13] = dataclasses.replace(evidence.chain[13], root_hash=FORGED)
    found = failures(evidence)
    assert set(found) == {"checkpoint_signatures", "anchors"}
    assert found["checkpoint_signatures"].startswith("size 5: BadSignatureError")
    assert found["anchors"].startswith(f"size 13: anchor of size 13 holds root {FORGED.hex()}")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 9, 31, 32, 33])
def test_roots_at_agrees_with_the_merkle_log(size: int):
    data = [b"%d" % i for i in range(size)]
    log = MerkleLog(MemoryNodeStore())
    log.append_many(data)
    roots = roots_at([leaf_hash(d) for d in data], range(size + 1))
    assert roots == {n: log.root(n) for n in range(size + 1)}
