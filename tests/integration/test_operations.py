"""Failure paths and operations on the real stack: worker crash, projection rebuild, readiness, metrics."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import psycopg

from projections.inbox import InboxProjection
from projections.command_status import CommandStatusProjection
from projections.rebuild import rebuild
from infra.kafka_probe import end_offsets, group_lag, read_between
from schemas.codec import AvroCodec
from tests.integration.conftest import message, projection_rows, projections_caught_up, unique, wait_until
from tests.integration.poison_support import dead_letter, produce, unlearnable_outcome


async def _burst(base_url: str, bodies: list[dict]) -> list[int]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        sem = asyncio.Semaphore(50)

        async def one(body: dict) -> int:
            async with sem:
                return (await client.post("/api/v1/messages/send", json=body)).status_code

        return await asyncio.gather(*(one(b) for b in bodies))


def _inbox_count(dsn: str, tenant: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM inbox WHERE tenant_id = %s", (tenant,)).fetchone()[0]


def _burst_bodies(tenant: str) -> list[dict]:
    return [message(tenant, f"s{i % 20}-{tenant}", f"r{i % 50}-{tenant}", content=f"n{i}") for i in range(2000)]


def _inbox_as_in_the_log(settings, tenant: str, before: dict[int, int]) -> dict[str, tuple]:  # noqa: ANN001
    """Check ``tenant``'s inbox rows against ``agent.messages`` since ``before``: one row per message delivered,
    each at the position of its first delivery (a record the topic holds twice must not move or double
    its row, and a re-applied batch must not either). Returns the rows, message id → (partition, offset)."""
    codec = AvroCodec()
    first: dict[str, tuple[int, int]] = {}
    for msg in read_between(settings.kafka_bootstrap, "agent.messages", before,
                            end_offsets(settings.kafka_bootstrap, "agent.messages")):
        event = codec.decode(msg.value())[1]
        if event["tenant_id"] == tenant:
            first.setdefault(event["message_id"], (msg.partition(), msg.offset()))
    with psycopg.connect(settings.postgres_dsn) as conn:
        rows = {m: (p, o) for m, p, o in conn.execute(
            "SELECT message_id, msg_partition, msg_offset FROM inbox WHERE tenant_id = %s", (tenant,))}
    assert rows == first
    return rows


async def _burst_and_kill(platform, component: str, tenant: str, bodies: list[dict]) -> list[int]:  # noqa: ANN001
    """Send ``bodies``; SIGKILL ``component`` once this burst is visibly reaching the inbox read model."""
    settings = platform.settings
    task = asyncio.create_task(_burst(settings.gateway_url, bodies))
    while _inbox_count(settings.postgres_dsn, tenant) < 200 and not task.done():
        await asyncio.sleep(0.02)
    os.killpg(platform.procs[component].pid, signal.SIGKILL)
    platform.procs[component].wait()
    return await task


def test_sigkill_of_the_projection_worker_mid_burst_loses_and_doubles_nothing(platform):
    settings = platform.settings
    tenant = unique("burst")
    bodies = _burst_bodies(tenant)
    before = end_offsets(settings.kafka_bootstrap, "agent.messages")

    statuses = asyncio.run(_burst_and_kill(platform, "projections", tenant, bodies))
    assert statuses.count(202) == 2000
    killed_at = _inbox_count(settings.postgres_dsn, tenant)
    assert killed_at < 2000  # the kill really happened mid-burst
    platform.start_component("projections")
    wait_until(lambda: _inbox_count(settings.postgres_dsn, tenant) >= 2000, 60, "2000 inbox rows")
    assert len(_inbox_as_in_the_log(settings, tenant, before)) == 2000


def test_sigkill_of_the_gate_mid_burst_delivers_every_command_once(platform):
    settings = platform.settings
    tenant = unique("gatekill")
    bodies = _burst_bodies(tenant)
    before = end_offsets(settings.kafka_bootstrap, "agent.messages")
    bindings_before = end_offsets(settings.kafka_bootstrap, "agent.registrations")

    statuses = asyncio.run(_burst_and_kill(platform, "gate", tenant, bodies))
    assert statuses.count(202) == 2000  # intake does not depend on the gate
    assert _inbox_count(settings.postgres_dsn, tenant) < 2000  # the kill really happened mid-burst
    platform.start_component("gate")
    wait_until(lambda: _inbox_count(settings.postgres_dsn, tenant) >= 2000, 120, "2000 inbox rows")
    assert len(_inbox_as_in_the_log(settings, tenant, before)) == 2000
    # The topic may hold a record twice (the killed gate's unacknowledged batch is decided again), but a
    # repeat is the same event: one event id per command.
    codec = AvroCodec()
    events = [codec.decode(m.value())[1] for m in read_between(
        settings.kafka_bootstrap, "agent.messages", before, end_offsets(settings.kafka_bootstrap, "agent.messages"))]
    ours = [e for e in events if e["tenant_id"] == tenant]
    assert len({e["command_id"] for e in ours}) == len({e["event_id"] for e in ours}) == 2000
    # Each of the burst's 70 agents was bound by one message, announced by one event (maybe repeated).
    bound = [codec.decode(m.value())[1] for m in read_between(
        settings.kafka_bootstrap, "agent.registrations", bindings_before,
        end_offsets(settings.kafka_bootstrap, "agent.registrations"))]
    bound = [e for e in bound if e["tenant_id"] == tenant]
    agents = {b["from_agent"] for b in bodies} | {b["to_agent"] for b in bodies}
    assert {e["agent_id"] for e in bound} == agents and len({e["event_id"] for e in bound}) == len(agents) == 70
    assert all(e["via"] == "first_message" and e["first_binding"] for e in bound)
    # The restarted gate's impact learner (its own consumer group) is consuming again too: it did not wait for
    # the killed member's session to run out (librdkafka's default was 45 s, longer than this whole test).
    poison = unlearnable_outcome()
    produce(settings.kafka_bootstrap, "governance.decisions", poison.key, poison.value, [("kind", b"outcome")])
    assert dead_letter(settings.kafka_bootstrap, poison.key, "impact-learner")["error_code"] == "invalid_outcome"


def test_a_rebuilt_read_model_equals_the_live_one_and_is_swapped_in_while_serving(platform, api):
    settings = platform.settings
    tenant = unique("rebuild")
    for i in range(30):
        api.post("/api/v1/messages/send", json=message(tenant, f"s-{tenant}", f"r-{tenant}", content=f"{i}"))
    # Quiescent first: the gate has committed every command and the projections every event.
    wait_until(lambda: group_lag(settings.kafka_bootstrap, "acgs-constitutional-gate", "acgs.commands") == 0
               and projections_caught_up(settings.postgres_dsn, settings.kafka_bootstrap,
                                                     (InboxProjection(), CommandStatusProjection())), 60, "pipeline drained")
    for projection in (InboxProjection(), CommandStatusProjection()):
        live = projection_rows(settings.postgres_dsn, projection)
        report = rebuild(projection, settings.kafka_bootstrap, settings.postgres_dsn)
        assert report["events"] > 0
        rebuilt = projection_rows(settings.postgres_dsn, projection)
        only_live, only_rebuilt = set(live) - set(rebuilt), set(rebuilt) - set(live)
        assert not only_live and not only_rebuilt, (projection.name, sorted(only_live)[:3], sorted(only_rebuilt)[:3])
        assert rebuilt == live
    # The live worker keeps projecting into the swapped-in table.
    sent = api.post("/api/v1/messages/send", json=message(tenant, f"s-{tenant}", f"r-{tenant}", content="after"))
    status = api.get(f"/api/v1/commands/{sent.json()['command_id']}", params={"wait_ms": 15000}).json()
    assert status["status"] == "delivered"
    page = api.get("/api/v1/messages/receive", params={"agent_id": f"r-{tenant}", "tenant_id": tenant,
                                                        "limit": 1000}).json()
    assert len(page["messages"]) == 31


def test_a_rebuild_under_load_serves_every_read_and_loses_nothing_sent_meanwhile(platform, api):
    """The swap locks the live table for its last batch only: sends and reads go on during the rebuild, and
    every message sent before, during and after it ends up in the swapped-in table, once, at its position."""
    import threading

    settings = platform.settings
    tenant = unique("rebuildload")
    before = end_offsets(settings.kafka_bootstrap, "agent.messages")
    stop, answers, sent = threading.Event(), [], []

    def load() -> None:
        with httpx.Client(base_url=settings.gateway_url, timeout=30) as client:
            i = 0
            while not stop.is_set() or i < 20:  # at least 20 sends, and on until the rebuild is done
                body = message(tenant, f"s{i % 5}-{tenant}", f"r{i % 7}-{tenant}", content=f"n{i}")
                answer = client.post("/api/v1/messages/send", json=body)
                answers.append(answer.status_code)
                if answer.status_code == 202:
                    sent.append(answer.json()["command_id"])
                reads = (client.get("/api/v1/messages/receive",
                                    params={"agent_id": f"r{i % 7}-{tenant}", "tenant_id": tenant}),
                         client.get(f"/api/v1/commands/{sent[-1]}") if sent else None)
                answers.extend(r.status_code for r in reads if r is not None)
                i += 1

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait_until(lambda: _inbox_count(settings.postgres_dsn, tenant) >= 10, 30, "load reaching the inbox")
        report = rebuild(InboxProjection(), settings.kafka_bootstrap, settings.postgres_dsn)
    finally:
        stop.set()
        worker.join(60)
    assert report["events"] > 0
    assert set(answers) <= {200, 202}, sorted(set(answers))
    wait_until(lambda: _inbox_count(settings.postgres_dsn, tenant) >= len(sent), 60, "every message in the inbox")
    assert len(_inbox_as_in_the_log(settings, tenant, before)) == len(sent)


def test_ready_and_metrics_report_dependencies_and_projection_lag(api):
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": "ok", "postgres": "ok", "redis": "ok"}
    metrics = api.get("/metrics").text
    assert 'acgs_projection_consumer_lag{partition="0",projection="inbox",topic="agent.messages"}' in metrics
    assert "acgs_http_requests_total" in metrics and "acgs_kafka_produce_duration_seconds_bucket" in metrics


def test_every_component_logs_json_lines(platform):
    """One JSON object per line, with ts, level, logger and msg, in every Python component's log. Lines that
    librdkafka writes itself (they start with ``%``, only when a broker connection fails) are its own format."""
    import json

    from infra.supervisor import COMPONENTS

    for name in platform.procs:
        if name not in COMPONENTS:
            continue
        lines = [line for line in platform.log_path(name).read_text().splitlines() if line.strip()]
        assert lines, name
        for line in lines:
            if line.startswith("%"):
                continue
            entry = json.loads(line)
            assert {"ts", "level", "logger", "msg"} <= entry.keys(), (name, line[:200])


def test_acgs_status_names_each_service_and_hides_passwords(platform):
    from tests.integration.audit_support import cli

    done = cli(platform, "status")
    assert done.returncode == 0, done.stdout + done.stderr
    states = {line.split()[0]: line.split()[-1] for line in done.stdout.splitlines() if line.strip()}
    assert {states[name] for name in ("kafka", "postgres", "redis", "gateway")} == {"ok"}

    # An external database whose URL carries a password: shown redacted, and the outage named, exit 1.
    env_url = "postgresql://acgs:s3cret-pw@127.0.0.1:9/acgs"
    env = {**os.environ, **platform.settings.child_env(), "DATABASE_URL": env_url, "COLUMNS": "200"}
    import subprocess
    import sys

    down = subprocess.run([sys.executable, "-m", "acgs.cli", "status"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert down.returncode == 1
    assert "s3cret-pw" not in down.stdout + down.stderr and "acgs:***@127.0.0.1:9" in down.stdout
    assert "DOWN" in next(line for line in down.stdout.splitlines() if line.startswith("postgres"))
    migrate = subprocess.run([sys.executable, "-m", "acgs.cli", "migrate"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert migrate.returncode == 1 and "Traceback" not in migrate.stderr
    assert migrate.stderr.startswith("error: Postgres at postgresql://acgs:***@127.0.0.1:9/acgs is not reachable")


def test_the_rebuild_cli_shows_its_progress_bar_and_a_summary(platform, api):
    """`acgs projections rebuild inbox` off a terminal: rich prints the bar once, finished, then the summary."""
    import json
    import re

    from tests.integration.audit_support import cli

    settings = platform.settings
    tenant = unique("rebuildcli")
    sent = api.post("/api/v1/messages/send", json=message(tenant, f"s-{tenant}", f"r-{tenant}", content="cli"))
    assert api.get(f"/api/v1/commands/{sent.json()['command_id']}", params={"wait_ms": 15000}).json()[
        "status"] == "delivered"
    before = sum(end_offsets(settings.kafka_bootstrap, "agent.messages").values())
    done = cli(platform, "projections", "rebuild", "inbox")
    after = sum(end_offsets(settings.kafka_bootstrap, "agent.messages").values())
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    report = json.loads(lines[-1])
    assert report["projection"] == "inbox" and report["events"] >= before
    bars = [line for line in lines if line.startswith("rebuilding inbox")]
    assert len(bars) == 1, done.stdout
    counts = re.search(r"━+ (\d+)/(\d+) ([\d,]+) ev/s", bars[0])
    assert counts, bars[0]
    loaded, total = int(counts[1]), int(counts[2])
    # The bar's total is agent.messages' end at the rebuild's start, and it finished (every record loaded);
    # the summary counts those and the ones caught up during the swap.
    assert before <= total <= after and loaded == total
    assert report["events"] == loaded + report["caught_up_during_swap"]
    page = api.get("/api/v1/messages/receive", params={"agent_id": f"r-{tenant}", "tenant_id": tenant}).json()
    assert [m["content"] for m in page["messages"]] == ["cli"]
