"""``acgs``: the operator's entry point (run the platform, its parts, and projection maintenance)."""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated

import typer

from acgs.runtime import freeze_startup_objects
from acgs.settings import get_settings

app = typer.Typer(help="ACGS-2: constitutional governance for AI agents, built around the Kafka log.",
                  no_args_is_help=True, add_completion=False)
worker = typer.Typer(help="Run one stream or projection worker (normally started by `acgs run`).",
                     no_args_is_help=True)
projections = typer.Typer(help="Inspect and rebuild read models.", no_args_is_help=True)
audit = typer.Typer(help="The verifiable audit log: verify it independently, seal checkpoints, show its key.",
                    no_args_is_help=True)
app.add_typer(worker, name="worker")
app.add_typer(projections, name="projections")
agents = typer.Typer(help="Bind agents to tenants (through the gateway), show a binding, list a tenant's agents.",
                     no_args_is_help=True)
app.add_typer(audit, name="audit")
app.add_typer(agents, name="agents")


def _logging() -> None:
    from acgs.logs import configure

    configure(get_settings().log_level)


@app.command()
def run() -> None:
    """Start everything locally (Kafka, Postgres, Redis, gateway, gate, projections); Ctrl-C stops it all."""
    from infra.exceptions import StackError
    from infra.process import interrupt_on_sigterm
    from infra.supervisor import Platform

    settings = get_settings()
    platform = Platform(settings)
    interrupt_on_sigterm()
    # A shell starts background jobs with SIGINT ignored; Ctrl-C must stop the platform however it was started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        typer.echo("starting the local stack (first run fetches Kafka and may take a minute)...")
        platform.start()
        ends = platform.stack.endpoints()
        typer.echo(f"ACGS-2 is up.\n  API:     {ends['gateway']}\n  Docs:    {ends['docs']}\n"
                   f"  Dashboard: {ends['dashboard']}\n"
                   f"  Kafka:   {ends['kafka']}\n  Postgres: {ends['postgres']}\n  Redis:   {ends['redis']}\n"
                   f"  Logs:    {settings.state_dir / 'logs'}")
        if "chain" in ends:
            typer.echo(f"  Chain:   {ends['chain']} (chain id {settings.eth_chain_id}), AuditAnchor "
                       f"{platform.extra_env.get('ANCHOR_CONTRACT_ADDRESS', settings.anchor_contract_address)}")
        typer.echo("Audit checkpoints: `acgs audit public-key` prints the verifier key.\nPress Ctrl-C to stop.")
        platform.supervise()
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("stopping...")
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator, the traceback in a file
        import traceback

        crash_log = settings.state_dir / "logs" / "acgs-run.log"
        crash_log.parent.mkdir(parents=True, exist_ok=True)
        crash_log.write_text(traceback.format_exc())
        typer.echo(f"error: {type(exc).__name__}: {exc} (traceback in {crash_log})", err=True)
        raise typer.Exit(1) from None
    finally:
        platform.stop()
        typer.echo("stopped.")


@app.command()
def status() -> None:
    """Show the configured endpoints and whether each service answers."""
    from infra.stack import check_ready, redacted

    settings = get_settings()
    ends = {"kafka": settings.kafka_bootstrap, "postgres": redacted(settings.postgres_dsn),
            "redis": redacted(settings.redis_dsn),
            "gateway": settings.gateway_url}
    if settings.audit_enabled and settings.anchoring_enabled:
        from streams.anchoring.deployment import public_rpc_url

        ends["chain"] = public_rpc_url(settings.eth_rpc)
    ready = check_ready(settings)
    for name, endpoint in ends.items():
        state = "ok" if ready.get(name, None) is None else f"DOWN ({ready[name]})"
        if name == "gateway":
            state = _gateway_state(settings.gateway_url)
        typer.echo(f"{name:9} {endpoint:55} {state}")
    if any(ready.values()):
        raise typer.Exit(1)


def _gateway_state(url: str) -> str:
    import httpx

    try:
        return "ok" if httpx.get(f"{url}/ready", timeout=2).status_code == 200 else "not ready"
    except httpx.HTTPError as exc:
        return f"DOWN ({type(exc).__name__})"


@app.command()
def migrate() -> None:
    """Create the platform's Postgres tables (idempotent)."""
    import psycopg

    from acgs.migrate import migrate as do_migrate
    from infra.stack import redacted

    dsn = get_settings().postgres_dsn
    try:
        do_migrate(dsn)
    except psycopg.OperationalError as exc:
        typer.echo(f"error: Postgres at {redacted(dsn)} is not reachable: {str(exc).strip()}", err=True)
        raise typer.Exit(1) from None
    typer.echo("migrated")


@app.command()
def topics() -> None:
    """Create the platform's Kafka topics (idempotent) and print their contract."""
    from infra.topics import ensure_topics
    from schemas.topics import TOPICS

    settings = get_settings()
    created = ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
    for t in TOPICS:
        typer.echo(f"{t.name:24} key: {t.key}{'  (created)' if t.name in created else ''}")


@app.command()
def gateway() -> None:
    """Serve the HTTP gateway (FastAPI under uvicorn)."""
    import uvicorn

    settings = get_settings()
    _logging()
    uvicorn.run("acgs.gateway:create_server", factory=True, host=settings.http_host, port=settings.http_port,
                workers=settings.http_workers, loop="uvloop", http="httptools", log_level="warning",
                access_log=False, log_config=None)  # uvicorn's loggers go to the JSON root handler


@worker.command("gate")
def worker_gate() -> None:
    """The constitutional gate (faust): acgs.commands → agent.messages, agent.registrations,
    constitutional.events, acgs.dlq."""
    import mode.loop

    # Before faust or the app makes a loop: uvloop's C event loop took 4-7% less of the gate's CPU at 1,000/s
    # than asyncio's (python -m bench.ab, and the same method before it existed; README).
    mode.loop.use("uvloop")
    import faust

    from streams.app import app as faust_app

    from acgs.logs import logging_config

    sys.argv = [sys.argv[0]]
    level = get_settings().log_level
    runner = faust.Worker(faust_app, loglevel=level.lower(), logging_config=logging_config(level.upper()),
                          quiet=True)  # no banner on stdout: the log holds JSON lines only
    # faust's startup spinner sets the root logger to DEBUG so it can spin on every record; every debug call
    # of aiokafka then builds a LogRecord only for the handler to drop it (6% of the gate's CPU under load).
    runner.spinner = None
    runner.execute_from_commandline()  # the gate freezes its startup objects once its model is restored


@worker.command("projections")
def worker_projections(only: Annotated[list[str] | None, typer.Option(help="run only these projections")] = None
                       ) -> None:
    """Run the live projections (one consumer, one transaction per batch, offsets kept in Postgres)."""
    from projections.registry import PROJECTIONS
    from projections.runner import GROUP_ID, ProjectionWorker, run_worker

    _logging()
    settings = get_settings()
    names = sorted(set(only)) if only else list(PROJECTIONS)
    unknown = set(names) - set(PROJECTIONS)
    if unknown:
        raise typer.BadParameter(f"unknown projection(s) {sorted(unknown)}; known: {sorted(PROJECTIONS)}")
    # A worker for a subset gets its own consumer group, so it never splits partitions with a full one.
    group = GROUP_ID if only is None else f"{GROUP_ID}.{'+'.join(names)}"
    worker = ProjectionWorker([PROJECTIONS[n]() for n in names], settings.kafka_bootstrap, settings.postgres_dsn,
                              settings.redis_dsn, group_id=group)
    freeze_startup_objects("projections")
    run_worker(worker)


@worker.command("audit")
def worker_audit() -> None:
    """The audit log: every event of the audited topics → one RFC 6962 leaf; signed checkpoints."""
    from streams.audit.app import run as run_audit

    _logging()
    freeze_startup_objects("audit")
    run_audit(get_settings())


@worker.command("approvals")
def worker_approvals() -> None:
    """The approvals writer (single writer per approval.commands partition), SLA timers, notifications."""
    from streams.approvals.worker import run as run_approvals

    _logging()
    freeze_startup_objects("approvals")
    run_approvals(get_settings())


@worker.command("anchor")
def worker_anchor() -> None:
    """Anchor the newest checkpoint on chain, at most once per ACGS_ANCHOR_INTERVAL_S."""
    from streams.anchoring.app import run as run_anchoring

    _logging()
    freeze_startup_objects("anchor")
    run_anchoring(get_settings())


@audit.command("verify")
def audit_verify(
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers (default: configured)")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC URL of the chain (default: configured)")] = None,
    contract: Annotated[str | None, typer.Option(help="AuditAnchor address (default: this stack's)")] = None,
    public_key: Annotated[str | None, typer.Option(help="checkpoint verifier key (name+id+base64) or a file "
                                                        "holding it (default: this stack's)")] = None,
    origin: Annotated[str | None, typer.Option(help="expected log origin (default: the key name)")] = None,
    logs_topic: Annotated[str, typer.Option(help="topic of the leaves")] = "audit.logs",
    checkpoints_topic: Annotated[str, typer.Option(help="topic of the checkpoints")] = "audit.checkpoints",
) -> None:
    """Verify the log from Kafka, the chain and the public key alone; exit 1 on any mismatch."""
    from acgs.audit_commands import verify

    raise typer.Exit(verify(get_settings(), bootstrap, rpc_url, contract, public_key, origin, logs_topic,
                            checkpoints_topic))


@audit.command("checkpoint")
def audit_checkpoint(timeout: Annotated[float, typer.Option(help="seconds to wait for the worker")] = 10.0) -> None:
    """Seal a checkpoint now (asks the audit worker) and print its signed note."""
    from acgs.audit_commands import seal

    raise typer.Exit(seal(get_settings(), timeout))


@audit.command("public-key")
def audit_public_key() -> None:
    """Print the checkpoint verifier key auditors need (never the private key)."""
    from acgs.audit_commands import show_public_key

    raise typer.Exit(show_public_key(get_settings()))


@app.command()
def replay(
    topic: Annotated[list[str] | None, typer.Option(help="topic to replay (repeatable) (default: audited)")] = None,
    from_offset: Annotated[int | None, typer.Option(help="start offset in every partition")] = None,
    from_time: Annotated[str | None, typer.Option(help="start time: unix ms or ISO 8601")] = None,
    to_time: Annotated[str | None, typer.Option(help="end time (exclusive): unix ms or ISO 8601")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="verify each event against the anchored log")] = False,
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers (default: configured)")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC URL of the chain (default: configured)")] = None,
    contract: Annotated[str | None, typer.Option(help="AuditAnchor address (default: this stack's)")] = None,
    public_key: Annotated[str | None, typer.Option(help="checkpoint verifier key (default: this stack's)")] = None,
) -> None:
    """Stream a range of events as JSON lines; with --verify, each with its proof against the anchored log."""
    from acgs.audit_commands import replay as run_replay

    if from_offset is not None and from_time is not None:
        typer.echo("error: give --from-offset or --from-time, not both", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_replay(get_settings(), topic, from_offset, from_time, to_time, verify, bootstrap, rpc_url,
                                contract, public_key))


@projections.command("list")
def projections_list() -> None:
    """List projections with their topics and stored offsets."""
    import psycopg

    from projections.base import load_offsets
    from projections.registry import PROJECTIONS

    with psycopg.connect(get_settings().postgres_dsn) as conn:
        for name, cls in PROJECTIONS.items():
            offsets = {f"{t}/{p}": o for (t, p), o in sorted(load_offsets(conn, name).items())}
            typer.echo(f"{name:16} topics={','.join(cls.topics)} offsets={json.dumps(offsets)}")


@projections.command("rebuild")
def projections_rebuild(name: Annotated[str, typer.Argument(help="projection to rebuild (see `list`)")]) -> None:
    """Re-read the projection's topics from offset 0 into a fresh table, then swap it in atomically."""
    from projections.rebuild import rebuild
    from projections.registry import PROJECTIONS

    if name not in PROJECTIONS:
        typer.echo(f"error: unknown projection {name!r}; choose from {', '.join(PROJECTIONS)}", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    report = rebuild(PROJECTIONS[name](), settings.kafka_bootstrap, settings.postgres_dsn, progress=True)
    typer.echo(json.dumps(report))


@agents.command("register")
def agents_register(
    agent: Annotated[list[str] | None, typer.Argument(help="agent ids to register")] = None,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="the tenant to bind them to")] = ...,
    file: Annotated[typer.FileText | None, typer.Option(help="more agent ids, one per line (# comments)")] = None,
    wait_s: Annotated[float, typer.Option("--wait", help="seconds to wait for each decision (0: do not wait)",
                                          min=0, max=30)] = 10.0,
    gateway: Annotated[str | None, typer.Option(help="gateway URL (default: this stack's)")] = None,
) -> None:
    """Register agents to a tenant through POST /api/v1/agents/register, with a progress bar; prints one JSON
    line per agent. Safe to run again: each agent's registration has a fixed idempotency key. Exit status 1 if
    any agent was refused or rejected (for instance, it already belongs to another tenant)."""
    from acgs.agents_commands import read_agents, register

    settings = get_settings()
    names = read_agents(agent or [], file or [])
    if not names:
        typer.echo("error: no agent ids given (arguments or --file)", err=True)
        raise typer.Exit(2)
    outcomes = register(gateway or settings.gateway_url, tenant, names, settings.constitutional_hash, wait_s)
    for outcome in outcomes:
        typer.echo(json.dumps({k: v for k, v in vars(outcome).items() if v is not None}))
    failed = [o for o in outcomes if o.status not in ("registered", "accepted")]
    typer.echo(f"{len(outcomes) - len(failed)} of {len(outcomes)} agents registered to {tenant}"
               + (" (decisions not awaited)" if wait_s == 0 else ""), err=True)
    raise typer.Exit(1 if failed else 0)


@agents.command("show")
def agents_show(agent: Annotated[str, typer.Argument(help="agent id")],
                tenant: Annotated[str, typer.Option("--tenant", "-t", help="the tenant asking")] = ...,
                gateway: Annotated[str | None, typer.Option(help="gateway URL (default: this stack's)")] = None) -> None:
    """Print the agent's binding to the tenant as JSON (exit status 1 if it has none there)."""
    from acgs.agents_commands import show

    status, body = show(gateway or get_settings().gateway_url, tenant, agent)
    typer.echo(json.dumps(body))
    raise typer.Exit(0 if status == 200 else 1)


@agents.command("list")
def agents_list(tenant: Annotated[str, typer.Option("--tenant", "-t", help="the tenant whose agents to list")] = ...,
                gateway: Annotated[str | None, typer.Option(help="gateway URL (default: this stack's)")] = None) -> None:
    """Print every agent bound to the tenant (by registration or first message), one JSON line each, in agent
    id order; a count on stderr. Exit status 1 if the gateway refuses or cannot be reached."""
    from acgs.agents_commands import ListingFailed, list_agents

    count = 0
    try:
        for binding in list_agents(gateway or get_settings().gateway_url, tenant):
            typer.echo(json.dumps(binding))
            count += 1
    except ListingFailed as exc:
        typer.echo(json.dumps({"code": exc.code, "message": exc.message}))
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{count} agents in {tenant}", err=True)


if __name__ == "__main__":
    app()
