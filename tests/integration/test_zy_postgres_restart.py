"""PostgreSQL restarted under the platform: intake keeps accepting, nothing is lost, reads and the audit log recover.

Named to run late: it stops the session's database (and starts it again).
"""

from __future__ import annotations

import psycopg

from infra.postgres import postgres_ok
from tests.integration.audit_support import event_ids, wait_for_leaves
from tests.integration.conftest import message, unique, wait_until
from tests.integration.outage import stopped, wait_delivered


def test_commands_sent_while_postgres_is_down_are_delivered_once_it_returns(platform, api):
    tenant = unique("pgdown")
    with stopped(platform.stack.postgres, "PostgreSQL (DATABASE_URL)"):
        sent = [api.post("/api/v1/messages/send", json=message(tenant, unique("a"), unique("b"), content=f"n{i}"))
                for i in range(20)]
        # Reads need the database: a clear 503 with a code, never a 500.
        status = api.get(f"/api/v1/commands/{sent[0].json().get('command_id', 'x')}")
        ready = api.get("/ready")
        dashboard = api.get("/api/v1/dashboard/summary")
    assert [r.status_code for r in sent] == [202] * 20, [r.text for r in sent if r.status_code != 202]
    assert status.status_code == 503 and status.json()["code"], status.text
    assert ready.status_code == 503 and ready.json()["checks"]["postgres"] != "ok"
    # The dashboard still answers: the sections Postgres feeds say so, Kafka's still count.
    assert dashboard.status_code == 200, dashboard.text
    board = dashboard.json()
    assert "error" in board["rejections"] and "error" in board["projections"] and board["ready"]["postgres"] != "ok"
    assert {row["topic"] for row in board["topics"]} >= {"acgs.commands", "agent.messages"}

    wait_until(lambda: postgres_ok(platform.settings.postgres_dsn), 60, "PostgreSQL back")
    ids = [r.json()["command_id"] for r in sent]
    for command_id in ids:
        wait_delivered(api, command_id, f"{command_id} delivered after PostgreSQL's restart")
    with psycopg.connect(platform.settings.postgres_dsn) as conn:
        rows, distinct = conn.execute("SELECT count(*), count(DISTINCT command_id) FROM inbox WHERE tenant_id = %s",
                                      (tenant,)).fetchone()
    assert rows == distinct == 20
    # The audit log caught up too: one leaf per delivery and per acceptance, and the whole log still verifies.
    leaves = wait_for_leaves(platform.settings.postgres_dsn, event_ids(ids), 60)
    assert len(leaves) == len({leaf[5] for leaf in leaves}) == 40
    report = api.post("/api/v1/audit/verify", json={"scope": "log"}).json()
    assert report.get("verified"), report
    # Every worker rode out the outage (retrying) instead of exiting.
    assert platform.failed_components() == {}
