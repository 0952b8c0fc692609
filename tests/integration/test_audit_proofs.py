"""Proofs and checkpoints from the HTTP API verify with the RFC 6962 verifier and the published key."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from streams.audit.checkpoint import open_checkpoint
from streams.audit.merkle import is_valid_inclusion, verify_consistency, verify_inclusion
from tests.integration.audit_support import logged, seal, verifier
from infra.kafka_probe import end_offsets
from tests.integration.conftest import decoded, unique


def _hashes(proof: dict) -> list[bytes]:
    return [bytes.fromhex(h) for h in proof["hashes"]]


def test_inclusion_proofs_verify_against_the_signed_checkpoint(platform, api):
    rows = logged(platform, unique("incl"), 3)
    checkpoint = seal(api)
    _, name, public = verifier(api)
    signed = open_checkpoint(checkpoint["note"], name, public, origin=checkpoint["origin"])
    assert (signed.size, signed.root_hash.hex()) == (checkpoint["tree_size"], checkpoint["root_hash"])
    for index, value_hash, *_ in rows:
        proof = api.get("/api/v1/audit/proof/inclusion", params={"leaf_index": index, "tree_size": signed.size})
        assert proof.status_code == 200, proof.text
        body = proof.json()
        assert body["leaf_hash"] == bytes(value_hash).hex()
        verify_inclusion(bytes(value_hash), index, signed.size, _hashes(body), signed.root_hash)
        # The proof is specific: the same path does not prove a neighbouring leaf's hash.
        assert not is_valid_inclusion(bytes(rows[0][1]) if index != rows[0][0] else bytes(rows[1][1]), index,
                                      signed.size, _hashes(body), signed.root_hash)


def test_consistency_proofs_link_successive_checkpoints(platform, api):
    logged(platform, unique("cons"), 1)
    first = seal(api)
    logged(platform, unique("cons"), 2)
    second = seal(api)
    assert second["tree_size"] > first["tree_size"]
    proof = api.get("/api/v1/audit/proof/consistency",
                    params={"first": first["tree_size"], "second": second["tree_size"]}).json()
    verify_consistency(first["tree_size"], second["tree_size"], bytes.fromhex(first["root_hash"]),
                       bytes.fromhex(second["root_hash"]), _hashes(proof))


def _all_records(bootstrap: str, topic: str) -> list[dict]:
    ends = end_offsets(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("all"), "log_level": 0,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    records, todo = [], {p: end for p, end in ends.items() if end > 0}
    try:
        while todo:
            msg = consumer.poll(5)
            assert msg is not None, f"{topic} stalled"
            if msg.error() is None:
                records.append(decoded(msg))
                if msg.offset() + 1 >= todo.get(msg.partition(), 0):
                    todo.pop(msg.partition(), None)
    finally:
        consumer.close()
    return records


def test_every_published_checkpoint_is_signed_and_extends_its_predecessor(platform, api, bootstrap):
    logged(platform, unique("chain"), 1)
    seal(api)
    _, name, public = verifier(api)
    checkpoints = {r["tree_size"]: r for r in _all_records(bootstrap, "audit.checkpoints")}
    assert len(checkpoints) >= 2
    for size, record in sorted(checkpoints.items()):
        signed = open_checkpoint(record["note"], name, public, origin=record["origin"])
        assert (signed.size, signed.root_hash.hex()) == (size, record["root_hash"])
        if record["previous_size"] is None:
            assert size == min(checkpoints)
            continue
        previous = checkpoints[record["previous_size"]]
        verify_consistency(previous["tree_size"], size, bytes.fromhex(previous["root_hash"]),
                           bytes.fromhex(record["root_hash"]), [bytes.fromhex(h) for h in record["consistency_proof"]])


def test_leaves_are_filtered_by_tenant_event_type_and_time_and_paged(platform, api):
    tenant = unique("filter")
    rows = logged(platform, tenant, 3)
    everything = api.get("/api/v1/audit/logs", params={"tenant_id": tenant}).json()
    assert [leaf["leaf_index"] for leaf in everything["leaves"]] == [r[0] for r in rows]
    assert everything["next"] is None
    delivered = api.get("/api/v1/audit/logs", params={"tenant_id": tenant, "event_type": "AgentMessageDelivered"})
    assert {leaf["source_topic"] for leaf in delivered.json()["leaves"]} == {"agent.messages"}
    assert len(delivered.json()["leaves"]) == 3
    pages, after = [], -1
    while after is not None:
        page = api.get("/api/v1/audit/logs", params={"tenant_id": tenant, "limit": 4, "after": after}).json()
        pages.append(page["leaves"])
        after = page["next"]
    assert [len(p) for p in pages] == [4, 2]
    first_time = min(r[8] for r in rows)
    early = api.get("/api/v1/audit/logs", params={"tenant_id": tenant, "from_time": first_time,
                                                  "to_time": first_time + 1}).json()["leaves"]
    assert early and all(leaf["recorded_at"] == first_time for leaf in early)
    single = api.get(f"/api/v1/audit/logs/{rows[0][0]}").json()
    assert single["leaf_hash"] == bytes(rows[0][1]).hex() and single["event_id"] == rows[0][5]


@pytest.mark.parametrize(("method", "path", "params", "status", "code"), [
    ("get", "/api/v1/audit/proof/inclusion", {"leaf_index": 10**9}, 422, "leaf_index_out_of_range"),
    ("get", "/api/v1/audit/proof/inclusion", {"leaf_index": 0, "tree_size": 10**9}, 422, "tree_size_out_of_range"),
    ("get", "/api/v1/audit/proof/inclusion", {"leaf_index": -1}, 422, None),
    ("get", "/api/v1/audit/proof/consistency", {"first": 5, "second": 3}, 422, "tree_size_out_of_range"),
    ("get", "/api/v1/audit/proof/consistency", {"first": "x"}, 422, None),
    ("get", "/api/v1/audit/logs", {"from_time": 10, "to_time": 5}, 422, "invalid_time_range"),
    ("get", "/api/v1/audit/logs/999999999", {}, 404, "leaf_not_found"),
    ("post", "/api/v1/audit/verify", {"leaf_index": 0, "event_id": "x"}, 422, None),
    ("post", "/api/v1/audit/verify", {}, 422, None),
    ("post", "/api/v1/audit/verify", {"event_id": "no-such-event"}, 404, "event_not_in_log"),
    ("post", "/api/v1/audit/verify", {"leaf_index": 0, "tree_size": 10**9}, 404, "checkpoint_not_found"),
    ("post", "/api/v1/audit/verify", {"leaf_index": 0, "surprise": 1}, 422, "unknown_field"),
])
def test_bad_audit_requests_answer_4xx_with_a_code(api, method, path, params, status, code):
    answer = api.get(path, params=params) if method == "get" else api.post(path, json=params)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) >= {"code", "message"}
    if code is not None:
        assert body["code"] == code
