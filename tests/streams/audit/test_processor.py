"""The audit processor's pure parts: the order a batch is logged in, and what is indexed about an event."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import AvroCodec
from streams.audit.processor import merge_partitions
from streams.audit.records import SourceRecord, describe
from tests.streams.audit.fakes import event

record = st.builds(SourceRecord, st.sampled_from(["t.a", "t.b"]), st.integers(0, 2), st.integers(0, 50),
                   st.integers(0, 100), st.just(b""))


def _unique_positions(records: list[SourceRecord]) -> list[SourceRecord]:
    return list({(r.topic, r.partition, r.offset): r for r in records}.values())


@given(st.lists(record, max_size=40).map(_unique_positions))
def test_each_partition_keeps_its_kafka_order_whatever_the_timestamps(records: list[SourceRecord]):
    merged = merge_partitions(records)
    assert sorted(merged, key=lambda r: (r.topic, r.partition, r.offset)) == \
        sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    for topic, partition in {(r.topic, r.partition) for r in records}:
        offsets = [r.offset for r in merged if (r.topic, r.partition) == (topic, partition)]
        assert offsets == sorted(offsets)


@given(st.lists(record, max_size=40).map(_unique_positions), st.randoms())
def test_the_order_is_a_function_of_the_batch_not_of_arrival(records: list[SourceRecord], rng: random.Random):
    shuffled = list(records)
    rng.shuffle(shuffled)
    assert merge_partitions(shuffled) == merge_partitions(records)


def test_partitions_interleave_by_timestamp():
    a = [SourceRecord("t", 0, i, ts, b"") for i, ts in enumerate([1, 5, 9])]
    b = [SourceRecord("t", 1, i, ts, b"") for i, ts in enumerate([2, 3, 10])]
    assert [(r.partition, r.offset) for r in merge_partitions(b + a)] == [(0, 0), (1, 0), (1, 1), (0, 1), (0, 2),
                                                                          (1, 2)]


def test_an_event_is_indexed_by_its_id_record_name_and_tenant():
    facts = describe(AvroCodec(), event("agent.messages", 7, tenant="tenant-x"))
    assert (facts.event_id, facts.event_type, facts.tenant_id) == (
        "00000000-0000-0000-0000-000000000007", "AgentMessageDelivered", "tenant-x")


def test_an_undecodable_value_is_still_logged_as_undecodable():
    facts = describe(AvroCodec(), b"\x00garbage")
    assert (facts.event_id, facts.event_type, facts.tenant_id) == (None, "undecodable", None)
