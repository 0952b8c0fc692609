"""verify_leaf: each tampering of the stored log fails exactly the step that checks it."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.anchoring.contract import Anchor
from streams.audit.checkpoint import Checkpoint, sign_checkpoint
from streams.audit.verification import verify_leaf
from tests.streams.audit.fakes import CODEC, ORIGIN, FakeEvidence, build_log

FORGED = b"\xff" * 32
STEPS = ["leaf_record", "source_event", "leaf_hash", "event_identity", "leaf_node", "checkpoint_signature",
         "inclusion_proof", "checkpoint_consistency", "anchor"]


def run(evidence: FakeEvidence, index: int = 6):  # noqa: ANN201
    return verify_leaf(evidence, evidence.leaf_rows.get(index), index, evidence.built.log_key, CODEC)


def test_an_untouched_anchored_leaf_passes_every_step():
    report = run(FakeEvidence(build_log()))
    assert report.verified and report.anchored
    assert [s.name for s in report.steps] == STEPS and {s.status for s in report.steps} == {"ok"}
    assert report.checkpoint.tree_size == 13  # the newest anchored checkpoint covering leaf 6


def test_a_leaf_newer_than_every_anchor_verifies_with_the_anchor_pending():
    report = run(FakeEvidence(build_log()), index=17)
    assert report.verified and not report.anchored
    assert report.steps[-1].name == "anchor" and report.steps[-1].status == "pending"


def test_a_leaf_no_checkpoint_covers_yet_is_not_verified():
    report = run(FakeEvidence(build_log(size=23)), index=22)
    assert not report.verified and report.steps[-1].status == "pending"


def _mutations() -> dict:
    def drop_row(e: FakeEvidence) -> None:
        del e.leaf_rows[6]

    def drop_source(e: FakeEvidence) -> None:
        leaf = e.leaf_rows[6]
        del e.values[(leaf.source_topic, leaf.partition, leaf.offset)]

    def alter_row_hash(e: FakeEvidence) -> None:
        e.leaf_rows[6] = dataclasses.replace(e.leaf_rows[6], leaf_hash=FORGED)

    def alter_row_tenant(e: FakeEvidence) -> None:
        e.leaf_rows[6] = dataclasses.replace(e.leaf_rows[6], tenant_id="someone-else")

    def alter_leaf_node(e: FakeEvidence) -> None:
        e.nodes._nodes[(0, 6)] = FORGED

    def alter_interior_node(e: FakeEvidence) -> None:
        e.nodes._nodes[(1, 2)] = FORGED  # leaves 4-5: the sibling subtree on leaf 6's path

    def alter_checkpoint_text(e: FakeEvidence) -> None:
        cp = e.checkpoint_rows[13]
        e.checkpoint_rows[13] = dataclasses.replace(cp, note=cp.note.replace("\n13\n", "\n12\n", 1))

    def re_sign_checkpoint(e: FakeEvidence) -> None:
        cp = e.checkpoint_rows[13]
        note = sign_checkpoint(Checkpoint(ORIGIN, 13, cp.root_hash, 1), ORIGIN, Ed25519PrivateKey.generate())
        e.checkpoint_rows[13] = dataclasses.replace(cp, note=note)

    def alter_checkpoint_root_column(e: FakeEvidence) -> None:
        e.checkpoint_rows[13] = dataclasses.replace(e.checkpoint_rows[13], root_hash=FORGED)

    def alter_consistency_proof(e: FakeEvidence) -> None:
        cp = e.checkpoint_rows[13]
        e.checkpoint_rows[13] = dataclasses.replace(cp, consistency_proof=(FORGED, *cp.consistency_proof[1:]))

    def chain_root_differs(e: FakeEvidence) -> None:
        e.chain[13] = dataclasses.replace(e.chain[13], root_hash=FORGED)

    def chain_lost_the_anchor(e: FakeEvidence) -> None:
        del e.chain[13]

    return {
        "leaf-row-deleted": (drop_row, "leaf_record", "leaf 6 is missing"),
        "source-event-gone": (drop_source, "source_event", "Kafka holds no record"),
        "leaf-row-hash-altered": (alter_row_hash, "leaf_hash", "differs from leaf 6"),
        "leaf-row-tenant-altered": (alter_row_tenant, "event_identity", "someone-else"),
        "leaf-node-altered": (alter_leaf_node, "leaf_node", "(0,6)"),
        "interior-node-altered": (alter_interior_node, "inclusion_proof", "node (1,2) stored " + FORGED.hex()),
        "checkpoint-text-altered": (alter_checkpoint_text, "checkpoint_signature", "BadSignatureError"),
        "checkpoint-re-signed": (re_sign_checkpoint, "checkpoint_signature", "no signature by key"),
        "checkpoint-root-column-altered": (alter_checkpoint_root_column, "checkpoint_signature", "stored root"),
        "consistency-proof-altered": (alter_consistency_proof, "checkpoint_consistency", "size 5 -> 13"),
        "chain-root-differs": (chain_root_differs, "anchor", "root on chain differs"),
        "chain-lost-the-anchor": (chain_lost_the_anchor, "anchor", "no anchor of size 13"),
    }


@pytest.mark.parametrize("name", sorted(_mutations()))
def test_each_mutation_fails_exactly_its_step(name: str):
    mutate, step, detail = _mutations()[name]
    evidence = FakeEvidence(build_log())
    mutate(evidence)
    report = run(evidence)
    assert not report.verified and report.failed_step == step, report.steps
    failed = report.steps[-1]
    assert failed.name == step and detail in failed.detail
    assert [s.status for s in report.steps[:-1]] == ["ok"] * (len(report.steps) - 1)


def test_an_altered_interior_node_is_reported_with_got_and_want():
    evidence = FakeEvidence(build_log())
    original = evidence.nodes._nodes[(1, 2)]
    evidence.nodes._nodes[(1, 2)] = FORGED
    failed = run(evidence).steps[-1]
    assert (failed.got, failed.want) == (FORGED.hex(), original.hex())


def test_a_pinned_checkpoint_is_the_one_verified_against():
    evidence = FakeEvidence(build_log(), pinned=21)
    report = run(evidence)
    assert report.checkpoint.tree_size == 21 and not report.anchored and report.verified


def test_without_a_verifier_key_no_checkpoint_verifies():
    built = build_log()
    evidence = FakeEvidence(built)
    key = dataclasses.replace(built.log_key, public_key=None)
    report = verify_leaf(evidence, evidence.leaf_rows[6], 6, key, CODEC)
    assert report.failed_step == "checkpoint_signature" and "no verifier key" in report.steps[-1].detail


def test_anchor_fixture_is_consistent():
    built = build_log()
    assert built.anchors == [Anchor(13, built.checkpoints[1].root_hash, built.checkpoints[1].checkpoint_hash, 0,
                                    "0x0")]
