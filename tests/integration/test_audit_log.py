"""Every event becomes exactly one leaf, hashing its exact Kafka bytes; re-delivery and crashes add nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading

import psycopg
from confluent_kafka import Producer

from query_api.audit_service import fetch_record
from tests.integration.audit_support import (
    event_ids,
    leaves_of,
    log_size,
    logged,
    publish_events,
    send,
    wait_for_leaves,
)
from tests.integration.conftest import decoded, read_topic, unique, wait_until


def test_messages_sent_over_http_become_leaves_through_the_whole_pipeline(platform, api):
    commands = send(api, unique("http"), 2)
    rows = wait_for_leaves(platform.settings.postgres_dsn, event_ids(commands))
    assert {r[2] for r in rows} == {"agent.messages", "constitutional.events"}


def test_every_event_becomes_one_leaf_hashing_its_exact_kafka_bytes(platform, api, bootstrap):
    tenant = unique("audit")
    rows = logged(platform, tenant, 5)
    assert len({r[5] for r in rows}) == len(rows) == 10
    for index, value_hash, topic, partition, offset, _, event_type, tenant_id, _ in rows:
        value = fetch_record(bootstrap, topic, partition, offset)
        assert hashlib.sha256(b"\x00" + value).digest() == bytes(value_hash), f"leaf {index}"
        assert tenant_id == tenant
        assert event_type == {"agent.messages": "AgentMessageDelivered",
                              "constitutional.events": "ConstitutionalCheckRecorded"}[topic]
    wanted = {r[0]: r for r in rows}
    published = read_topic(bootstrap, "audit.logs", lambda m: decoded(m)["leaf_index"] in wanted, want=len(rows))
    for record in map(decoded, published):
        row = wanted[record["leaf_index"]]
        assert (record["leaf_hash"], record["source_topic"], record["partition"], record["offset"],
                record["event_id"]) == (bytes(row[1]).hex(), row[2], row[3], row[4], row[5])


def _stored_offset(dsn: str, topic: str, partition: int) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT next_offset FROM projection_offsets WHERE projection = 'audit_log' "
                           "AND topic = %s AND partition = %s", (topic, partition)).fetchone()
    return row[0] if row else 0


def test_a_redelivered_event_gets_no_second_leaf(platform, api, bootstrap):
    dsn = platform.settings.postgres_dsn
    rows = logged(platform, unique("redeliver"), 1)
    delivered = next(r for r in rows if r[2] == "agent.messages")
    value = fetch_record(bootstrap, "agent.messages", delivered[3], delivered[4])
    # An at-least-once producer upstream sends the same event again: same bytes and event id, new offset.
    offsets = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce("agent.messages", value=value, partition=delivered[3],
                     on_delivery=lambda err, msg: offsets.append(msg.offset()))
    assert producer.flush(10) == 0
    again = offsets[0]
    wait_until(lambda: _stored_offset(dsn, "agent.messages", delivered[3]) > again, 20, "the audit log passing it")
    assert len(leaves_of(dsn, [delivered[5]])) == 1
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM audit_leaves WHERE source_topic = 'agent.messages' AND "
                            "source_partition = %s AND source_offset = %s", (delivered[3], again)).fetchone() == (0,)


def _tenant_leaves(dsn: str, tenant: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM audit_leaves WHERE tenant_id = %s", (tenant,)).fetchone()[0]


def test_killing_the_audit_worker_mid_burst_loses_and_doubles_no_leaf(platform, api):
    dsn = platform.settings.postgres_dsn
    tenant = unique("killaudit")
    burst = threading.Thread(target=publish_events, args=(platform.settings.kafka_bootstrap, tenant, 1000),
                             kwargs={"pause_s": 0.002})
    burst.start()
    wait_until(lambda: _tenant_leaves(dsn, tenant) >= 200, 30, "the worker appending the burst")
    os.killpg(platform.procs["audit"].pid, signal.SIGKILL)
    platform.procs["audit"].wait()
    burst.join()
    assert _tenant_leaves(dsn, tenant) < 2000  # the kill really happened mid-burst
    platform.start_component("audit")
    wait_until(lambda: _tenant_leaves(dsn, tenant) >= 2000, 60, "2000 leaves")
    with psycopg.connect(dsn) as conn:
        rows, distinct = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM audit_leaves "
                                      "WHERE tenant_id = %s", (tenant,)).fetchone()
        total, highest = conn.execute("SELECT count(*), max(leaf_index) FROM audit_leaves").fetchone()
    assert rows == distinct == 2000
    assert total == highest + 1 == log_size(dsn)  # no gap, no double anywhere in the log
    report = api.post("/api/v1/audit/verify", json={"scope": "log"}).json()
    assert report["verified"], report


def test_a_second_audit_worker_waits_while_the_first_writes(platform, api, tmp_path):
    from infra.process import spawn, stop_process

    log = tmp_path / "second-audit.log"
    second = spawn([sys.executable, "-m", "acgs.cli", "worker", "audit"], log,
                   env={**platform.settings.child_env(), **platform.extra_env})
    try:
        wait_until(lambda: log.exists() and "holds the lock" in log.read_text(), 30, "the second worker waiting")
        rows = logged(platform, unique("single"), 3)
        assert len(rows) == 6 and len({r[0] for r in rows}) == 6
        assert second.poll() is None and "open at size" not in log.read_text()
    finally:
        stop_process(second)
