"""Redis restarted under the platform: sends are refused with a clear 503 while it is down, then flow again.

Named to run late: it stops the session's Redis (and starts it again). Redis keeps nothing on disk; what the
platform keeps there (agent directory mirror, status cache, wake-ups) is rebuilt from Postgres and Kafka.
"""

from __future__ import annotations

import pytest

from infra.redis import redis_ok
from tests.integration.conftest import message, unique, wait_until


def test_with_redis_stopped_sends_get_503_and_the_platform_recovers(platform, api):
    redis_server = platform.stack.redis
    if redis_server is None:
        pytest.skip("Redis is external (REDIS_URL): the test does not stop it")
    tenant = unique("redisdown")
    redis_server.stop()
    try:
        refused = api.post("/api/v1/messages/send", json=message(tenant, unique("a"), unique("b")))
        ready = api.get("/ready")
    finally:
        redis_server.start()
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "redis_unavailable" and refused.headers["Retry-After"]
    assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"

    wait_until(lambda: redis_ok(platform.settings.redis_dsn), 30, "Redis back")
    body = message(tenant, unique("a"), unique("b"), content="after the restart")
    accepted = wait_until(lambda: (r := api.post("/api/v1/messages/send", json=body)).status_code == 202 and r, 60,
                          "202 again")
    command_id = accepted.json()["command_id"]
    wait_until(lambda: api.get(f"/api/v1/commands/{command_id}?wait_ms=2000").json().get("status") == "delivered",
               90, "a command sent after Redis's restart delivered")
    # Every worker rode out the outage (retrying) instead of exiting.
    assert platform.failed_components() == {}
