"""``make bench``: the spine's benchmarks, each beside its baseline measured in the same run.

1. durable HTTP intake (wrk) vs a bare FastAPI endpoint (same wrk, same uvicorn settings) vs a raw
   confluent-kafka producer (acks=all, idempotent, same record size);
2. intake and command → read-model latency at a fixed 1,000 commands/s (open loop);
3. projection rebuild events/s vs a raw COPY of the same rows into an identically indexed table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time

import psycopg
from confluent_kafka import Producer

from acgs.settings import REPO_ROOT, Settings
from bench import cpu, hops, jvm_gc
from bench.loadgen import open_loop, openloop_binary, percentile, wrk
from infra.kafka import gc_log_path
from infra.kafka_probe import end_offsets, group_lag
from infra.process import interrupt_on_sigterm, spawn, stop_process, wait_until
from infra.supervisor import Platform
from projections.inbox import COLUMNS, InboxProjection
from projections.rebuild import rebuild
from schemas.codec import AvroCodec

RESULTS = REPO_ROOT / "bench" / "results"


def bench_settings() -> Settings:
    return Settings(state_dir=REPO_ROOT / ".state" / "bench", kafka_port=29092, kafka_controller_port=29093,
                    postgres_port=25433, redis_port=26380, http_port=28080, log_level="WARNING",
                    # The spine alone: the audit and anchoring workers have their own bench (audit_bench.py).
                    audit_enabled=False, anchoring_enabled=False)


def command_record(content_bytes: int, command_id: str = "5254ae5c-3e24-424f-9796-1284fbe35aed",
                   message_id: str = "6548d85a-813f-5c50-b937-202b3e2c8ead", agent: int = 1) -> dict:
    """A valid ``acgs.commands`` record, as the gateway would append it."""
    return {"command_id": command_id, "message_id": message_id, "tenant_id": "bench", "from_agent": f"bench-s{agent}",
            "to_agent": f"bench-r{agent}", "message_type": "command", "priority": "normal",
            "content": "x" * content_bytes, "payload_json": None, "constitutional_hash": "cdd01ef066bc6cf2",
            "conversation_id": None, "idempotency_key": None,
            "correlation_id": "0b7e7a55-2f7c-4a52-a1ba-8c1b8c3f0d3e", "issued_at": 1}


def raw_producer(bootstrap: str, count: int, content_bytes: int) -> dict:
    value = AvroCodec().encode("acgs.commands", command_record(content_bytes))
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 1})
    acked = [0]

    def on_delivery(err, _msg) -> None:  # noqa: ANN001
        if err is None:
            acked[0] += 1

    started = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce("bench.raw", value=value, key=f"k{i % 64}", on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    seconds = time.perf_counter() - started
    return {"records": count, "acked": acked[0], "record_bytes": len(value), "records_per_s": acked[0] / seconds}


def bare_fastapi(seconds: int, connections: int, port: int, log_dir) -> dict:  # noqa: ANN001
    proc = spawn([sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1", "--port", str(port),
                  "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"],
                 log_dir / "bare.log", cwd=REPO_ROOT)
    try:
        wait_until(lambda: __import__("httpx").get(f"http://127.0.0.1:{port}/docs").status_code == 200, 30,
                   "bare FastAPI", proc)
        wrk(f"http://127.0.0.1:{port}/api/v1/messages/send", 2, connections)  # warm-up
        return wrk(f"http://127.0.0.1:{port}/api/v1/messages/send", seconds, connections)
    finally:
        stop_process(proc)


class _Autovacuum(threading.Thread):
    """Samples, four times a second, how many autovacuum workers Postgres is running (they share the cores)."""

    def __init__(self, dsn: str) -> None:
        super().__init__(name="autovacuum-sampler", daemon=True)
        self._dsn, self._done, self.samples, self.busy = dsn, threading.Event(), 0, 0
        self.tables: set[str] = set()

    def run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._done.wait(0.25):
                rows = conn.execute("SELECT query FROM pg_stat_activity "
                                    "WHERE backend_type = 'autovacuum worker'").fetchall()
                self.samples += 1
                self.busy += bool(rows)
                self.tables.update(q.removeprefix("autovacuum: ") for q, in rows if q)

    def stop(self) -> dict:
        self._done.set()
        self.join()
        return {"busy_share": round(self.busy / max(self.samples, 1), 2), "tables": sorted(self.tables)}


def rebuild_vs_copy(settings: Settings) -> dict:
    """The inbox rebuilt from offset 0, with who else used the CPU meanwhile, then a raw COPY of its rows."""
    sampler = _Autovacuum(settings.postgres_dsn)
    sampler.start()
    cpu_before = cpu.snapshot()
    report = rebuild(InboxProjection(), settings.kafka_bootstrap, settings.postgres_dsn)
    during = {"cpu_s": {group: round(s, 2) for group, s in cpu.spent(cpu_before, cpu.snapshot()).items()},
              "autovacuum": sampler.stop()}
    cols = ", ".join(COLUMNS)
    with psycopg.connect(settings.postgres_dsn) as conn:
        rows = conn.execute(f"SELECT {cols} FROM inbox").fetchall()
        conn.execute("DROP TABLE IF EXISTS copy_bench")
        baseline = InboxProjection("copy_bench")
        conn.execute(baseline.ddl() + baseline.index_ddl())
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY copy_bench ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        copy_s = time.perf_counter() - started
        conn.execute("DROP TABLE copy_bench")
        conn.commit()
    return {"rebuild": report, "during_rebuild": during, "copy_rows": len(rows), "copy_rows_per_s": len(rows) / copy_s}


def _drained(settings: Settings) -> bool:
    """The gate has committed every command and the inbox projection every delivery."""
    if group_lag(settings.kafka_bootstrap, "acgs-constitutional-gate", "acgs.commands") > 0:
        return False
    with psycopg.connect(settings.postgres_dsn) as conn:
        stored = dict(((t, p), o) for t, p, o in conn.execute(
            "SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = 'inbox'"))
    return all(stored.get(("agent.messages", p), 0) >= end
               for p, end in end_offsets(settings.kafka_bootstrap, "agent.messages").items())


def drain(settings: Settings, backlog: int) -> dict:
    """Wait until the pipeline has processed everything; the backlog over that time is its capacity."""
    started = time.perf_counter()
    wait_until(lambda: _drained(settings), 900, "pipeline drained")
    seconds = time.perf_counter() - started
    return {"backlog": backlog, "seconds": round(seconds, 2), "commands_per_s": backlog / max(seconds, 1e-9)}


def _appended(settings: Settings) -> int:
    return sum(end_offsets(settings.kafka_bootstrap, "acgs.commands").values())


def intake_alone(platform: Platform, settings: Settings, url: str, seconds: int, connections: int,
                 content_bytes: int) -> tuple[dict, dict]:
    """Durable intake with every downstream worker stopped (SIGSTOP): the write path's own capacity.

    The commands accepted meanwhile are a backlog; timing the resumed workers through it gives the
    pipeline's capacity (gate + projections + Postgres) with the gateway idle.
    """
    import os
    import signal

    workers = [p for name, p in platform.procs.items() if name != "gateway"]
    before = _appended(settings)
    for proc in workers:
        os.killpg(proc.pid, signal.SIGSTOP)
    try:
        result = wrk(url, seconds, connections, content_bytes=content_bytes)
    finally:
        backlog = _appended(settings) - before
        for proc in workers:
            os.killpg(proc.pid, signal.SIGCONT)
    return result, drain(settings, backlog)


def idle_cpu(seconds: float) -> dict[str, float]:
    """Share of a core each process uses with nothing to do (polls, timers, heartbeats): paid at any rate."""
    before = cpu.snapshot()
    time.sleep(seconds)
    return {group: round(s / seconds, 3) for group, s in cpu.spent(before, cpu.snapshot()).items()}


def fixed_rate(settings: Settings, rate: int, seconds: int, content_bytes: int, warmup_seconds: int) -> dict:
    """Open-loop run at ``rate``/s until drained, with CPU per command by process over that time, then the
    latency split by stage (``bench.hops``, not counted in the CPU figures).

    The measured run follows, without a pause, ``warmup_seconds`` of the same load that is not measured: from an
    idle platform, the first few hundred milliseconds of load cost far more than the rest (in an async-profiler
    sample of the broker's first second, its JIT compiler took 44% of its CPU; the gate binds the run's new
    agents), and in a 10 s run those few hundred commands alone were the P99. The figure
    wanted is latency at that rate, so the transition is kept out of it; README says what it costs."""
    if warmup_seconds > 0:
        open_loop("127.0.0.1", settings.http_port, settings.redis_dsn, rate, warmup_seconds,
                  content_bytes=content_bytes)
    start = hops.offsets_now(settings.kafka_bootstrap)
    cpu_before = cpu.snapshot()
    began = time.time()
    result = open_loop("127.0.0.1", settings.http_port, settings.redis_dsn, rate, seconds,
                       content_bytes=content_bytes)
    sent = cpu.snapshot()
    result["broker_gc"] = jvm_gc.summary(gc_log_path(settings.state_dir), began, time.time())
    wait_until(lambda: _drained(settings), 900, "pipeline drained")
    # The platform's processes are counted until the pipeline drained, the load generator until it stopped
    # sending (the drain checks run in this process too, and are not load).
    after = {**cpu.snapshot(), cpu.LOAD_GENERATOR: sent.get(cpu.LOAD_GENERATOR, {})}
    result["cpu_us_per_command"] = cpu.per_command(cpu_before, after, rate * seconds)
    trace = result.pop("trace")
    result["first_second_read_model_p99_ms"] = _first_second_p99(trace)
    result["stages"] = hops.split(settings.kafka_bootstrap, start, trace)
    return result


def _first_second_p99(trace: dict[str, tuple]) -> float:
    """Command → read model P99 (ms) of the commands scheduled in the run's first second: with
    ``--rate-warmup-seconds 0`` the cost of going from idle to the rate, otherwise a second like the others."""
    began = min((scheduled for scheduled, _, _ in trace.values()), default=0.0)
    return percentile([(visible - scheduled) * 1000 for scheduled, _, visible in trace.values()
                       if visible is not None and scheduled < began + 1.0], 0.99)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per throughput run (default 15)")
    parser.add_argument("--warmup-seconds", type=int, default=25,
                        help="closed-loop load before measuring, so the JVM's JIT is done (default 25)")
    parser.add_argument("--idle-seconds", type=float, default=10,
                        help="how long to measure the idle platform's CPU after the warm-up (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--rate", type=int, default=1000, help="fixed rate for the latency run (default 1000/s)")
    parser.add_argument("--sustainable-rate", type=int, default=200,
                        help="second fixed rate, below the pipeline's capacity (default 200/s)")
    parser.add_argument("--rate-seconds", type=int, default=10, help="duration of the fixed-rate run (default 10)")
    parser.add_argument("--rate-warmup-seconds", type=int, default=5,
                        help="unmeasured load at the same rate right before each fixed-rate run (default 5)")
    parser.add_argument("--raw-records", type=int, default=200_000, help="records for the raw producer baseline")
    parser.add_argument("--content-bytes", type=int, default=200, help="message content size (default 200)")
    args = parser.parse_args(argv)

    settings = bench_settings()
    openloop_binary()  # built now, so the build's CPU is not counted as the load generator's
    if settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)
    interrupt_on_sigterm()  # a terminated run still stops its stack
    platform = Platform(settings)
    platform.start()
    url = f"{settings.gateway_url}/api/v1/messages/send"
    results: dict = {"args": vars(args)}
    try:
        print("intake through the gateway (wrk)...", flush=True)
        # Warm-up: the broker's JIT compiler alone took ~40% of its CPU in runs shorter than this, which is a
        # start-up cost, not a per-command one; connections and caches warm up too.
        wrk(url, args.warmup_seconds, args.connections, content_bytes=args.content_bytes)
        wait_until(lambda: _drained(settings), 900, "pipeline drained after warm-up")
        print("idle CPU...", flush=True)
        results["idle"] = idle_cpu(args.idle_seconds)
        results["intake"] = wrk(url, args.seconds, args.connections, content_bytes=args.content_bytes)
        wait_until(lambda: _drained(settings), 900, "pipeline drained")
        print("intake with the downstream workers paused (gateway + Kafka alone), then their drain...", flush=True)
        results["intake_alone"], results["drain"] = intake_alone(platform, settings, url, args.seconds,
                                                                 args.connections, args.content_bytes)
        print("bare FastAPI baseline (wrk)...", flush=True)
        results["bare_fastapi"] = bare_fastapi(args.seconds, args.connections, settings.http_port + 1,
                                               settings.state_dir / "logs")
        print("raw confluent-kafka producer baseline...", flush=True)
        results["raw_producer"] = raw_producer(settings.kafka_bootstrap, args.raw_records, args.content_bytes)
        print(f"fixed rate {args.rate}/s for {args.rate_warmup_seconds}s unmeasured, then {args.rate_seconds}s "
              "(open loop)...", flush=True)
        results["fixed_rate"] = fixed_rate(settings, args.rate, args.rate_seconds, args.content_bytes,
                                           args.rate_warmup_seconds)
        print(f"fixed rate {args.sustainable_rate}/s for {args.rate_warmup_seconds}s unmeasured, then "
              f"{args.rate_seconds}s (open loop)...", flush=True)
        results["sustainable_rate"] = fixed_rate(settings, args.sustainable_rate, args.rate_seconds,
                                                 args.content_bytes, args.rate_warmup_seconds)
        print("projection rebuild vs raw COPY...", flush=True)
        results["rebuild"] = rebuild_vs_copy(settings)
    finally:
        platform.stop()
    report(results)
    RESULTS.mkdir(exist_ok=True)
    for run in ("intake", "intake_alone", "bare_fastapi"):
        results[run].pop("raw", None)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    return 0


def report(r: dict) -> None:
    intake, bare, raw = r["intake"], r["bare_fastapi"], r["raw_producer"]
    fixed, rb, low, alone = r["fixed_rate"], r["rebuild"], r["sustainable_rate"], r["intake_alone"]
    lines = [
        "| measurement | ACGS-2 | baseline | ratio |",
        "|---|---|---|---|",
        f"| durable intake, commands/s (wrk, {r['args']['connections']} conns) | {intake['requests_per_s']:,.0f} "
        f"| bare FastAPI {bare['requests_per_s']:,.0f} | {intake['requests_per_s'] / bare['requests_per_s']:.0%} |",
        f"| durable intake, downstream workers paused, commands/s | {alone['requests_per_s']:,.0f} "
        f"| bare FastAPI {bare['requests_per_s']:,.0f} | {alone['requests_per_s'] / bare['requests_per_s']:.0%} |",
        f"| intake P50 / P99 at saturation, ms | {intake['p50_ms']:.2f} / {intake['p99_ms']:.2f} "
        f"| bare FastAPI {bare['p50_ms']:.2f} / {bare['p99_ms']:.2f} | |",
        f"| Kafka appends/s (acks=all, {raw['record_bytes']} B records) | {intake['requests_per_s']:,.0f} "
        f"| raw producer {raw['records_per_s']:,.0f} | {intake['requests_per_s'] / raw['records_per_s']:.0%} |",
        f"| gate + projections draining a backlog of {r['drain']['backlog']:,} commands, commands/s "
        f"| {r['drain']['commands_per_s']:,.0f} | | |",
        f"| intake P50 / P99 at {fixed['rate']}/s, ms | {fixed['intake_p50_ms']:.2f} / {fixed['intake_p99_ms']:.2f} | | |",
        f"| command → read model P50 / P99 at {fixed['rate']}/s, ms | {fixed['read_model_p50_ms']:.2f} / "
        f"{fixed['read_model_p99_ms']:.2f} | | |",
        f"| command → read model P99 over the first second of the {fixed['rate']}/s run, ms "
        f"| {fixed['first_second_read_model_p99_ms']:.2f} | | |",
        f"| intake P50 / P99 at {low['rate']}/s, ms | {low['intake_p50_ms']:.2f} / {low['intake_p99_ms']:.2f} | | |",
        f"| command → read model P50 / P99 at {low['rate']}/s, ms | {low['read_model_p50_ms']:.2f} / "
        f"{low['read_model_p99_ms']:.2f} | | |",
        f"| projection rebuild, events/s | {rb['rebuild']['events_per_second']:,.0f} "
        f"| raw COPY {rb['copy_rows_per_s']:,.0f} rows/s | {rb['rebuild']['events_per_second'] / rb['copy_rows_per_s']:.0%} |",
    ]
    for run in (fixed, low):
        split = "; ".join(f"{name} {v['p50_ms']:.1f} / {v['p99_ms']:.1f}" for name, v in run["stages"].items())
        lines.append(f"| stages at {run['rate']}/s, P50 / P99 ms | {split} | | |")
        gc = run["broker_gc"]
        lines.append(f"| Kafka broker GC pauses during the {run['rate']}/s run | {gc['pauses']}, longest "
                     f"{gc['max_ms']:.1f} ms, {gc['total_ms']:.0f} ms in all | | |")
    for run in (fixed, low):
        used = run["cpu_us_per_command"]
        shares = ", ".join(f"{group} {us:,.0f}" for group, us in used.items() if group != "total")
        lines.append(f"| CPU per command at {run['rate']}/s, µs (all processes, then by process) "
                     f"| {used['total']:,.0f} | {shares} | |")
    idle = r["idle"]
    lines.append(f"| idle CPU, share of a core (all processes, then by process) | {idle['total']:.1%} | "
                 + ", ".join(f"{g} {v:.1%}" for g, v in idle.items() if g != "total") + " | |")
    during = rb["during_rebuild"]
    lines.append(f"| CPU seconds by process during the rebuild ({rb['rebuild']['seconds']:.1f} s; the rebuild runs "
                 f"in the bench process) | " + ", ".join(f"{g} {v:.1f}" for g, v in during["cpu_s"].items()) +
                 f" | autovacuum running in {during['autovacuum']['busy_share']:.0%} of samples "
                 f"({', '.join(during['autovacuum']['tables']) or 'none'}) | |")
    notes = [f"intake non-2xx: {intake['non_2xx']}, fixed-rate errors: {fixed['errors']}, "
             f"never visible: {fixed['never_visible']}, rebuild events: {rb['rebuild']['events']}"]
    print("\n".join(lines + [""] + notes))


if __name__ == "__main__":
    sys.exit(main())
