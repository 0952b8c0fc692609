"""Tampering with the stored log is detected, and the report names exactly what was changed.

Each test alters one thing in Postgres, asks ``POST /api/v1/audit/verify``, and restores it. Altered rows are
chosen so that the running workers never read them meanwhile: an early interior node (later proofs use its
ancestors), leaf rows (read only by verification), a checkpoint's note (anchoring reads its root column).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.audit.checkpoint import Checkpoint, parse_body, sign_checkpoint
from tests.integration.audit_support import logged, seal, wait_anchored
from tests.integration.conftest import unique

FORGED = bytes.fromhex("ff" * 32)


@pytest.fixture(scope="module")
def anchored_log(platform, api) -> dict:  # noqa: ANN001
    """A log of at least 8 leaves whose latest checkpoint is anchored: what every test verifies against."""
    logged(platform, unique("tamper"), 4)
    checkpoint = seal(api)
    wait_anchored(api, checkpoint["tree_size"])
    return checkpoint


@contextmanager
def altered(dsn: str, change: str, restore: str, params: tuple, restore_params: tuple) -> Iterator[None]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute(change, params).rowcount == 1
        try:
            yield
        finally:
            assert conn.execute(restore, restore_params).rowcount == 1


def _verify(api, **body) -> dict:  # noqa: ANN001, ANN003
    answer = api.post("/api/v1/audit/verify", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _step(report: dict, name: str) -> dict:
    return next(s for s in report["steps"] if s["name"] == name)


def _fetch(dsn: str, sql: str, params: tuple) -> tuple:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchone()


def test_an_untouched_leaf_verifies_through_every_step_up_to_the_chain(api, anchored_log):
    report = _verify(api, leaf_index=3, tree_size=anchored_log["tree_size"])
    assert report["verified"] and report["anchored"], report
    assert [s["name"] for s in report["steps"]] == [
        "leaf_record", "source_event", "leaf_hash", "event_identity", "leaf_node", "checkpoint_signature",
        "inclusion_proof", "checkpoint_consistency", "anchor"]
    assert all(s["status"] == "ok" for s in report["steps"])


def test_an_altered_leaf_row_is_named_with_both_hashes(platform, api, anchored_log):
    dsn = platform.settings.postgres_dsn
    (original,) = _fetch(dsn, "SELECT leaf_hash FROM audit_leaves WHERE leaf_index = 3", ())
    with altered(dsn, "UPDATE audit_leaves SET leaf_hash = %s WHERE leaf_index = 3",
                 "UPDATE audit_leaves SET leaf_hash = %s WHERE leaf_index = 3", (FORGED,), (bytes(original),)):
        report = _verify(api, leaf_index=3, tree_size=anchored_log["tree_size"])
    assert not report["verified"] and report["failed_step"] == "leaf_hash"
    step = _step(report, "leaf_hash")
    assert (step["got"], step["want"]) == (FORGED.hex(), bytes(original).hex())


def test_an_altered_event_id_in_a_leaf_row_is_named(platform, api, anchored_log):
    dsn = platform.settings.postgres_dsn
    (original,) = _fetch(dsn, "SELECT event_id FROM audit_leaves WHERE leaf_index = 3", ())
    with altered(dsn, "UPDATE audit_leaves SET event_id = 'forged' WHERE leaf_index = 3",
                 "UPDATE audit_leaves SET event_id = %s WHERE leaf_index = 3", (), (original,)):
        report = _verify(api, leaf_index=3, tree_size=anchored_log["tree_size"])
    assert report["failed_step"] == "event_identity" and original in _step(report, "event_identity")["detail"]


def test_an_altered_interior_node_is_named_by_its_position(platform, api, anchored_log):
    dsn = platform.settings.postgres_dsn
    (original,) = _fetch(dsn, "SELECT hash FROM audit_nodes WHERE level = 1 AND idx = 0", ())
    with altered(dsn, "UPDATE audit_nodes SET hash = %s WHERE level = 1 AND idx = 0",
                 "UPDATE audit_nodes SET hash = %s WHERE level = 1 AND idx = 0", (FORGED,), (bytes(original),)):
        # Leaf 2's audit path starts with node (1,0), the subtree of leaves 0 and 1.
        report = _verify(api, leaf_index=2, tree_size=anchored_log["tree_size"])
        whole = _verify(api, scope="log")
    assert report["failed_step"] == "inclusion_proof"
    step = _step(report, "inclusion_proof")
    assert "node (1,0)" in step["detail"] and (step["got"], step["want"]) == (FORGED.hex(), bytes(original).hex())
    assert whole["failed_step"] == "interior_nodes" and "node (1,0) stored " + FORGED.hex() in \
        _step(whole, "interior_nodes")["detail"]


def _note(dsn: str, tree_size: int) -> str:
    return _fetch(dsn, "SELECT note FROM audit_checkpoints WHERE tree_size = %s", (tree_size,))[0]


def test_an_altered_checkpoint_fails_its_signature(platform, api, anchored_log):
    dsn, size = platform.settings.postgres_dsn, anchored_log["tree_size"]
    note = _note(dsn, size)
    body, _, signature = note.partition("\n\n")
    forged = "\n".join([*body.split("\n")[:2], "/" * 43 + "=", *body.split("\n")[3:]]) + "\n\n" + signature
    with altered(dsn, "UPDATE audit_checkpoints SET note = %s WHERE tree_size = %s",
                 "UPDATE audit_checkpoints SET note = %s WHERE tree_size = %s", (forged, size), (note, size)):
        report = _verify(api, leaf_index=3, tree_size=size)
    assert report["failed_step"] == "checkpoint_signature"
    assert "BadSignatureError" in _step(report, "checkpoint_signature")["detail"]


def test_a_checkpoint_re_signed_with_another_key_is_refused(platform, api, anchored_log):
    dsn, size = platform.settings.postgres_dsn, anchored_log["tree_size"]
    note = _note(dsn, size)
    body = parse_body(note.partition("\n\n")[0] + "\n")
    impostor = sign_checkpoint(Checkpoint(body.origin, body.size, body.root_hash, body.timestamp_ms), body.origin,
                               Ed25519PrivateKey.generate())
    with altered(dsn, "UPDATE audit_checkpoints SET note = %s WHERE tree_size = %s",
                 "UPDATE audit_checkpoints SET note = %s WHERE tree_size = %s", (impostor, size), (note, size)):
        report = _verify(api, leaf_index=3, tree_size=size)
    assert report["failed_step"] == "checkpoint_signature"
    assert "no signature by key" in _step(report, "checkpoint_signature")["detail"]


def test_a_leaf_deleted_from_the_middle_of_the_log_is_named(platform, api, anchored_log):
    dsn = platform.settings.postgres_dsn
    columns = "leaf_index, leaf_hash, source_topic, source_partition, source_offset, event_id, event_type, " \
              "tenant_id, recorded_at"
    row = _fetch(dsn, f"SELECT {columns} FROM audit_leaves WHERE leaf_index = 5", ())
    with altered(dsn, "DELETE FROM audit_leaves WHERE leaf_index = 5",
                 f"INSERT INTO audit_leaves ({columns}) VALUES ({', '.join(['%s'] * 9)})", (), row):
        by_index = _verify(api, leaf_index=5)
        whole = _verify(api, scope="log")
        by_event = api.post("/api/v1/audit/verify", json={"event_id": row[5]})
    assert by_index["failed_step"] == "leaf_record" and "leaf 5 is missing" in _step(by_index, "leaf_record")["detail"]
    assert whole["failed_step"] == "leaf_sequence" and "leaf 5 missing" in _step(whole, "leaf_sequence")["detail"]
    assert by_event.status_code == 404 and by_event.json()["code"] == "event_not_in_log"
