"""The independent audit over fake Kafka and chain sources: each tampering yields its precise finding."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.anchoring.contract import Anchor
from streams.audit.auditor import Auditor
from streams.audit.checkpoint import Checkpoint, sign_checkpoint
from streams.audit.records import CheckpointSealed, SourceRecord
from tests.streams.audit.fakes import KEY, ORIGIN, FakeChain, FakeLogSource, build_log, event, replace

FORGED = b"\xdd" * 32


def audit(leaves=None, checkpoints=None, records=None, anchors=None):  # noqa: ANN001, ANN201
    built = build_log()
    source = FakeLogSource(built.leaves if leaves is None else leaves(built.leaves),
                           built.checkpoints if checkpoints is None else checkpoints(built.checkpoints),
                           built.records if records is None else records(built.records))
    chain = FakeChain(built.anchors if anchors is None else anchors(built.anchors))
    return Auditor(source, chain, built.verifier_key).run()


def codes(report) -> set[str]:  # noqa: ANN001
    return {f.code for f in report.findings}


def test_the_untouched_log_passes_with_every_count_reported():
    report = audit()
    assert report.ok, report.findings
    assert (report.leaves, report.checkpoints, report.source_records, report.anchors, report.anchored_size) == \
        (21, 3, 21, 1, 13)


def _forged_checkpoint(size: int, root: bytes, key=KEY) -> CheckpointSealed:  # noqa: ANN001
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root, 1), ORIGIN, key)
    return CheckpointSealed(ORIGIN, size, root, 1, note, None, ())


def _mutations() -> dict:
    return {
        "leaf-deleted-from-the-middle": (
            {"leaves": lambda ls: [lf for lf in ls if lf.leaf_index != 9]},
            {"leaf_missing": "leaf 9 is missing from audit.logs",
             "event_not_logged": "constitutional.events/0/1 (ConstitutionalCheckRecorded"}),
        "leaf-hash-altered": (
            {"leaves": lambda ls: replace(ls, 4, leaf_hash=FORGED)},
            {"leaf_hash": "leaf 4: SHA-256(0x00 || agent.messages/1/0)"}),
        "source-event-gone": (
            {"records": lambda rs: [r for r in rs if (r.topic, r.partition, r.offset) != ("agent.messages", 0, 1)]},
            {"source_missing": "leaf 6: Kafka no longer holds its event agent.messages/0/1"}),
        "source-event-altered": (
            {"records": lambda rs: replace(rs, 6, value=event("agent.messages", 99))},
            {"leaf_hash": "leaf 6:", "root_mismatch": "checkpoint of size 13"}),
        "event-never-logged": (
            {"records": lambda rs: rs + [SourceRecord("agent.messages", 0, 7, 9999, event("agent.messages", 500))]},
            {}),  # beyond the log's frontier in its partition: not yet logged, not a finding
        "checkpoint-re-signed-with-another-key": (
            {"checkpoints": lambda cs: cs + [_forged_checkpoint(21, cs[-1].root_hash, Ed25519PrivateKey.generate())]},
            {"checkpoint_signature": "checkpoint of size 21: no signature by key"}),
        "forked-history": (
            {"checkpoints": lambda cs: cs + [_forged_checkpoint(13, FORGED)]},
            {"fork": "two signed checkpoints of size 13 with different roots"}),
        "checkpoint-root-not-the-events-root": (
            {"checkpoints": lambda cs: [_forged_checkpoint(5, FORGED), *cs[1:]],
             "anchors": lambda an: []},
            {"root_mismatch": f"checkpoint of size 5 signs root {FORGED.hex()}", "consistency": "checkpoint 5 -> 13"}),
        "consistency-proof-altered": (
            {"checkpoints": lambda cs: replace(cs, 1, consistency_proof=(FORGED,) + cs[1].consistency_proof[1:])},
            {"consistency": "checkpoint 5 -> 13"}),
        "chain-root-differs": (
            {"anchors": lambda an: [dataclasses.replace(an[0], root_hash=FORGED)]},
            {"anchor_root_mismatch": f"anchor #0 (size 13): chain holds root {FORGED.hex()}"}),
        "chain-anchor-of-an-unknown-checkpoint": (
            {"anchors": lambda an: an + [Anchor(17, FORGED, FORGED, 0, "0x0")]},
            {"anchor_without_checkpoint": "anchor #1 (size 17)"}),
        "chain-checkpoint-hash-differs": (
            {"anchors": lambda an: [dataclasses.replace(an[0], checkpoint_hash=FORGED)]},
            {"anchor_checkpoint_hash": "anchor #0 (size 13)"}),
    }


@pytest.mark.parametrize("name", sorted(_mutations()))
def test_each_mutation_is_reported_precisely(name: str):
    change, expected = _mutations()[name]
    report = audit(**change)
    found: dict[str, str] = {}
    for f in report.findings:
        found[f.code] = found.get(f.code, "") + f.message + "\n"
    assert set(expected) <= set(found), report.findings
    for code, fragment in expected.items():
        assert fragment in found[code], found[code]
    if not expected:
        assert report.ok, report.findings


def _with_extra_record_at_offset_1(extra: bytes):  # noqa: ANN202
    """The log of agent.messages/0 with ``extra`` inserted at offset 1 (later records and leaves move up)."""
    built = build_log()
    here = ("agent.messages", 0)
    moved = [dataclasses.replace(r, offset=r.offset + 1) if (r.topic, r.partition) == here and r.offset >= 1
             else r for r in built.records]
    leaves = [dataclasses.replace(lf, offset=lf.offset + 1) if (lf.source_topic, lf.partition) == here
              and lf.offset >= 1 else lf for lf in built.leaves]
    source = FakeLogSource(leaves, built.checkpoints, moved + [SourceRecord(*here, 1, 5, extra)])
    return Auditor(source, FakeChain(built.anchors), built.verifier_key).run()


def test_a_re_delivered_event_is_counted_not_reported():
    report = _with_extra_record_at_offset_1(build_log().records[0].value)  # same event id as offset 0
    assert report.ok, report.findings
    assert report.redeliveries == 1


def test_an_event_the_log_skipped_below_its_frontier_is_reported():
    report = _with_extra_record_at_offset_1(event("agent.messages", 777))
    assert [(f.code, f.message.split(" (")[0]) for f in report.findings] == [
        ("event_not_logged", "agent.messages/0/1")]
