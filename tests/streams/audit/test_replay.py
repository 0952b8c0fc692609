"""Replay against the anchored log: the anchor must match a signed checkpoint and the published leaves."""

from __future__ import annotations

import dataclasses

import pytest

from streams.audit.records import SourceRecord
from streams.audit.replay import ReplayError, check, load_anchored_log, replay
from tests.streams.audit.fakes import CODEC, FakeChain, FakeLogSource, build_log, event, replace


def _anchored(**changes):  # noqa: ANN003, ANN202
    built = build_log()
    leaves = changes.get("leaves", built.leaves)
    chain = FakeChain(changes.get("anchors", built.anchors))
    return built, load_anchored_log(FakeLogSource(leaves, built.checkpoints, built.records), chain,
                                    built.verifier_key)


def test_every_anchored_event_is_verified_and_newer_ones_are_not_anchored_yet():
    built, anchored = _anchored()
    lines = list(replay(FakeLogSource(built.leaves, built.checkpoints, built.records),
                        [(t, p, 0, 10) for t in ("agent.messages", "constitutional.events") for p in range(3)],
                        anchored))
    statuses = {line["verification"]["leaf_index"]: line["verification"]["status"] for line in lines}
    assert statuses == {i: "verified" if i < 13 else "not_anchored" for i in range(21)}
    assert [line["timestamp"] for line in lines] == sorted(line["timestamp"] for line in lines)


def test_altered_bytes_fail_and_unknown_or_redelivered_events_are_named():
    built, anchored = _anchored()
    altered = dataclasses.replace(built.records[3], value=event("constitutional.events", 300))
    assert check(anchored, altered, CODEC)["status"] == "mismatch"
    stranger = SourceRecord("agent.messages", 2, 99, 1, event("agent.messages", 555))
    assert check(anchored, stranger, CODEC)["status"] == "not_in_log"
    again = dataclasses.replace(built.records[3], offset=99)
    assert check(anchored, again, CODEC) == {"status": "duplicate", "leaf_index": 3,
                                             "detail": "a re-delivery of an event the log records at this leaf"}


def test_an_anchor_without_a_matching_checkpoint_or_leaves_is_refused():
    built = build_log()
    with pytest.raises(ReplayError, match="no published checkpoint matches"):
        _anchored(anchors=[dataclasses.replace(built.anchors[0], checkpoint_hash=b"\0" * 32)])
    with pytest.raises(ReplayError, match="do not give the anchored root"):
        _anchored(leaves=replace(built.leaves, 2, leaf_hash=b"\1" * 32))
    with pytest.raises(ReplayError, match="nothing is anchored"):
        _anchored(anchors=[])
