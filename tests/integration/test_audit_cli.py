"""``acgs audit verify`` and ``acgs replay --verify``: Kafka, the chain and the public key, nothing else.

Tampered histories are built as copies (fresh topics, a second contract) so the live log stays intact; the
verifier is pointed at them with --logs-topic / --checkpoints-topic / --contract.
"""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Consumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account

from acgs.settings import HARDHAT_DEV_KEY
from schemas.codec import AvroCodec
from streams.anchoring.app import web3_for
from streams.anchoring.contract import AuditAnchorContract
from streams.audit.checkpoint import Checkpoint, sign_checkpoint
from streams.audit.keys import ensure_dev_signing_key
from streams.audit.merkle import leaf_hash, verify_inclusion
from streams.audit.records import CheckpointSealed, checkpoint_to_wire
from tests.integration.audit_support import cli, copy_topic, logged, seal, verifier, wait_anchored
from infra.kafka_probe import end_offsets
from tests.integration.conftest import unique


@pytest.fixture(scope="module")
def anchored(platform, api) -> dict:  # noqa: ANN001
    logged(platform, unique("cli"), 3)
    checkpoint = seal(api)
    wait_anchored(api, checkpoint["tree_size"])
    return checkpoint


def _verify(platform, api, *extra: str):  # noqa: ANN001, ANN202
    vkey, _, _ = verifier(api)
    return cli(platform, "audit", "verify", "--public-key", vkey, "--rpc-url", platform.settings.eth_rpc,
               "--contract", platform.extra_env["ANCHOR_CONTRACT_ADDRESS"], *extra)


def _raw(bootstrap: str, topic: str) -> list:
    ends = end_offsets(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("raw"), "log_level": 0,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end])
    todo, found = {p: end for p, end in ends.items() if end}, []
    try:
        while todo:
            msg = consumer.poll(5)
            assert msg is not None, f"{topic} stalled"
            if msg.error() is None:
                found.append(msg)
                if msg.offset() + 1 >= todo.get(msg.partition(), 0):
                    todo.pop(msg.partition(), None)
    finally:
        consumer.close()
    return found


def test_the_untouched_log_verifies_from_kafka_and_the_chain_alone(platform, api, anchored):
    result = _verify(platform, api)
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stderr and "FAIL" not in result.stderr


def test_replay_proves_each_event_against_the_anchored_root(platform, api, anchored):
    start_ms = int(time.time() * 1000)
    logged(platform, unique("replay"), 3)
    end_ms = int(time.time() * 1000) + 1
    wait_anchored(api, seal(api)["tree_size"])
    vkey, _, _ = verifier(api)
    result = cli(platform, "replay", "--verify", "--from-time", str(start_ms), "--to-time", str(end_ms),
                 "--public-key", vkey, "--rpc-url", platform.settings.eth_rpc,
                 "--contract", platform.extra_env["ANCHOR_CONTRACT_ADDRESS"])
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 6 and {line["topic"] for line in lines} == {"agent.messages", "constitutional.events"}
    for line in lines:
        check = line["verification"]
        assert check["status"] == "verified", line
        assert line["event"]["event_id"]
    # Each proof stands on its own: recompute the leaf from the record and check it against the root.
    ordered = sorted(lines, key=lambda line: line["timestamp"])
    assert [line["timestamp"] for line in lines] == [line["timestamp"] for line in ordered]
    record = _raw(platform.settings.kafka_bootstrap, lines[0]["topic"])
    value = next(m.value() for m in record if m.partition() == lines[0]["partition"]
                 and m.offset() == lines[0]["offset"])
    check = lines[0]["verification"]
    verify_inclusion(leaf_hash(value), check["leaf_index"], check["tree_size"],
                     [bytes.fromhex(h) for h in check["proof"]], bytes.fromhex(check["root_hash"]))


def test_a_leaf_deleted_from_the_published_log_is_named(platform, api, anchored):
    bootstrap = platform.settings.kafka_bootstrap
    codec = AvroCodec()
    records = sorted(_raw(bootstrap, "audit.logs"), key=lambda m: codec.decode(m.value())[1]["leaf_index"])
    victim = next(codec.decode(m.value())[1] for m in records if codec.decode(m.value())[1]["leaf_index"] == 7)
    copy = copy_topic(bootstrap, [(m.key(), m.value()) for m in records
                                  if codec.decode(m.value())[1]["leaf_index"] != 7])
    result = _verify(platform, api, "--logs-topic", copy)
    assert result.returncode == 1
    assert f"leaf_missing: leaf {victim['leaf_index']} is missing from audit.logs" in result.stderr
    where = f"{victim['source_topic']}/{victim['partition']}/{victim['offset']}"
    assert f"event_not_logged: {where}" in result.stderr


def _forged(origin: str, size: int, root: bytes, key) -> dict:  # noqa: ANN001
    note = sign_checkpoint(Checkpoint(origin, size, root, int(time.time() * 1000)), origin, key)
    return checkpoint_to_wire(CheckpointSealed(origin, size, root, int(time.time() * 1000), note, None, ()))


def test_a_forked_and_a_re_signed_checkpoint_are_named(platform, api, anchored):
    bootstrap = platform.settings.kafka_bootstrap
    codec = AvroCodec()
    published = _raw(bootstrap, "audit.checkpoints")
    origin, size = anchored["origin"], anchored["tree_size"]
    # The log's own key signing a second root for a size it already signed: a fork.
    fork = _forged(origin, size, bytes.fromhex("ab" * 32), ensure_dev_signing_key(platform.settings.state_dir))
    impostor = _forged(origin, size + 1000, bytes.fromhex("cd" * 32), Ed25519PrivateKey.generate())
    copy = copy_topic(bootstrap, [(m.key(), m.value()) for m in published] +
                      [(origin.encode(), codec.encode("audit.checkpoints", fork)),
                       (origin.encode(), codec.encode("audit.checkpoints", impostor))])
    result = _verify(platform, api, "--checkpoints-topic", copy)
    assert result.returncode == 1
    assert f"fork: two signed checkpoints of size {size} with different roots: {anchored['root_hash']} and " \
           f"{'ab' * 32}" in result.stderr
    assert f"checkpoint_signature: checkpoint of size {size + 1000}: no signature by key" in result.stderr


def test_an_anchor_whose_root_differs_from_the_log_is_named(platform, api, anchored):
    w3 = web3_for(platform.settings.eth_rpc, 10)
    other = AuditAnchorContract.deploy(w3, Account.from_key(HARDHAT_DEV_KEY))
    size = anchored["tree_size"]
    other.anchor(size, bytes.fromhex("ee" * 32), bytes.fromhex(anchored["checkpoint_hash"]))
    result = _verify(platform, api, "--contract", other.address)
    assert result.returncode == 1
    assert f"anchor_root_mismatch: anchor #0 (size {size}): chain holds root {'ee' * 32}, the signed checkpoint " \
           f"{anchored['root_hash']}" in result.stderr
