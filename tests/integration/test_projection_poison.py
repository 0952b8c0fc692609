"""Records the read side cannot store go to the dead-letter topic, and the projections keep flowing.

These records bypass the gateway and the gate (a producer writing straight to an event topic), which is the
only way they can reach a projection: the gate refuses the same defects on ``acgs.commands``.
"""

from __future__ import annotations

from infra.kafka_probe import group_lag
from projections.command_status import CommandStatusProjection
from projections.inbox import InboxProjection
from projections.rebuild import rebuild
from schemas.codec import AvroCodec
from tests.integration.conftest import (HASH, decoded, projection_rows, projections_caught_up, read_topic, unique,
                                        wait_until)
from tests.integration.poison_support import produce_all


def _delivered(tenant: str, recipient: str, content: str) -> dict:
    return {"event_id": unique("ev"), "command_id": unique("cmd"), "message_id": unique("m"), "tenant_id": tenant,
            "from_agent": unique("a"), "to_agent": recipient, "message_type": "event", "priority": "normal",
            "content": content, "payload_json": None, "conversation_id": None, "constitutional_hash": HASH,
            "issued_at": 1, "delivered_at": 2}


def _inbox(api, tenant: str, recipient: str) -> list[dict]:  # noqa: ANN001
    return api.get("/api/v1/messages/receive", params={"agent_id": recipient, "tenant_id": tenant}).json()["messages"]


def _dead_letter_codes(bootstrap: str, key: bytes, want: int) -> list[bytes]:
    dead = read_topic(bootstrap, "acgs.dlq", lambda m: m.key() == key
                      and dict(m.headers()).get("processor") == b"projections", want=want)
    return [dict(m.headers())["error_code"] for m in dead]


def test_a_record_postgres_cannot_store_is_dead_lettered_and_the_records_around_it_are_applied(api, bootstrap,
                                                                                               platform):
    codec = AvroCodec()
    tenant, recipient = unique("tenant"), unique("b")
    key = recipient.encode()  # one inbox, one partition: the poison sits between its neighbours
    before = _delivered(tenant, recipient, "before")
    poison = _delivered(tenant, recipient, "NUL \x00 inside")  # valid Avro; Postgres text refuses it
    after = _delivered(tenant, recipient, "after")
    produce_all(bootstrap, "agent.messages", key, [codec.encode("agent.messages", r) for r in (before, poison, after)])

    inbox = wait_until(lambda: len(_inbox(api, tenant, recipient)) == 2 and _inbox(api, tenant, recipient),
                       what="the poison's neighbours in the inbox")
    assert [m["message_id"] for m in inbox] == [before["message_id"], after["message_id"]]
    assert _dead_letter_codes(bootstrap, key, want=1) == [b"projection_failed"]
    dead = read_topic(bootstrap, "acgs.dlq", lambda m: m.key() == key)[0]
    assert decoded(dead)["original_value"] == codec.encode("agent.messages", poison)

    later = _delivered(tenant, recipient, "later")  # and the worker still runs on
    produce_all(bootstrap, "agent.messages", key, [codec.encode("agent.messages", later)])
    wait_until(lambda: len(_inbox(api, tenant, recipient)) == 3, what="a later record in the inbox")

    # A rebuild meets the same record in the log and skips it the same way.
    report = rebuild(InboxProjection(), bootstrap, platform.settings.postgres_dsn)
    assert report["events"] > 0
    assert [m["message_id"] for m in _inbox(api, tenant, recipient)] == [
        before["message_id"], after["message_id"], later["message_id"]]


def test_a_record_of_another_topics_schema_is_dead_lettered_and_the_stream_keeps_flowing(api, bootstrap):
    codec = AvroCodec()
    tenant, recipient = unique("tenant"), unique("b")
    key = recipient.encode()
    command = {"command_id": unique("cmd"), "message_id": unique("m"), "tenant_id": tenant, "from_agent": unique("a"),
               "to_agent": recipient, "message_type": "command", "priority": "normal", "content": "wrong topic",
               "payload_json": None, "constitutional_hash": HASH, "conversation_id": None, "idempotency_key": None,
               "correlation_id": unique("corr"), "issued_at": 1}
    good = _delivered(tenant, recipient, "good")
    produce_all(bootstrap, "agent.messages", key,
                [codec.encode("acgs.commands", command), codec.encode("agent.messages", good)])

    wait_until(lambda: [m["message_id"] for m in _inbox(api, tenant, recipient)] == [good["message_id"]],
               what="the good record in the inbox")
    assert _dead_letter_codes(bootstrap, key, want=1) == [b"unexpected_schema"]


def test_a_poison_record_stops_only_the_projection_that_cannot_store_it_and_a_rebuild_agrees(api, bootstrap,
                                                                                             platform):
    """Each projection decides alone: the inbox refuses a NUL in the content, the command's status does not
    store the content and records the delivery. A rebuild of each projection, which reads the same log on
    its own, then ends with exactly the live worker's rows."""
    codec = AvroCodec()
    tenant, recipient = unique("tenant"), unique("b")
    key = recipient.encode()
    poison = _delivered(tenant, recipient, "NUL \x00 again")
    after = _delivered(tenant, recipient, "after")
    produce_all(bootstrap, "agent.messages", key, [codec.encode("agent.messages", r) for r in (poison, after)])

    wait_until(lambda: [m["message_id"] for m in _inbox(api, tenant, recipient)] == [after["message_id"]],
               what="the record after the poison in the inbox")
    status = api.get(f"/api/v1/commands/{poison['command_id']}", params={"wait_ms": 15000})
    assert status.status_code == 200 and status.json()["status"] == "delivered", status.text
    dead = read_topic(bootstrap, "acgs.dlq", lambda m: m.key() == key
                      and dict(m.headers()).get("processor") == b"projections", want=1)
    assert len(dead) == 1 and dict(dead[0].headers())["error"].startswith(b"projection inbox:")

    dsn, projections = platform.settings.postgres_dsn, (InboxProjection(), CommandStatusProjection())
    # Quiescent first: the gate has committed every command and the projections every event.
    wait_until(lambda: group_lag(bootstrap, "acgs-constitutional-gate", "acgs.commands") == 0
               and projections_caught_up(dsn, bootstrap, projections), 60, "pipeline drained")
    for projection in projections:
        live = projection_rows(dsn, projection)
        assert rebuild(projection, bootstrap, dsn)["events"] > 0
        rebuilt = projection_rows(dsn, projection)
        only_live, only_rebuilt = set(live) - set(rebuilt), set(rebuilt) - set(live)
        assert not only_live and not only_rebuilt, (projection.name, sorted(only_live)[:3], sorted(only_rebuilt)[:3])
