"""Redis restarted under the platform: sends are refused with a clear 503 while it is down, then flow again.

Named to run late: it stops the session's Redis (and starts it again). Redis keeps its append-only file, so
the idempotency keys (kept nowhere else) survive the restart.
"""

from __future__ import annotations

from infra.kafka_probe import end_offsets
from infra.redis import redis_ok
from tests.integration.conftest import message, unique, wait_until
from tests.integration.outage import send_until_accepted, stopped, wait_delivered


def test_with_redis_stopped_sends_get_503_and_the_platform_recovers(platform, api):
    tenant = unique("redisdown")
    keyed = message(tenant, unique("a"), unique("b"), idempotency_key=unique("key"))
    first = api.post("/api/v1/messages/send", json=keyed)
    assert first.status_code == 202, first.text
    with stopped(platform.stack.redis, "Redis (REDIS_URL)"):
        refused = api.post("/api/v1/messages/send", json=message(tenant, unique("a"), unique("b")))
        ready = api.get("/ready")
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "redis_unavailable" and refused.headers["Retry-After"]
    assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"

    wait_until(lambda: redis_ok(platform.settings.redis_dsn), 30, "Redis back")
    body = message(tenant, unique("a"), unique("b"), content="after the restart")
    command_id = send_until_accepted(api, body).json()["command_id"]
    wait_delivered(api, command_id, "a command sent after Redis's restart delivered")
    # A replay of a key sent before the restart is still recognised: same answer, nothing appended.
    before = end_offsets(platform.settings.kafka_bootstrap, "acgs.commands")
    replay = api.post("/api/v1/messages/send", json=keyed)
    assert replay.status_code == 202 and replay.json() == first.json()
    assert end_offsets(platform.settings.kafka_bootstrap, "acgs.commands") == before
    # Every worker rode out the outage (retrying) instead of exiting.
    assert platform.failed_components() == {}
