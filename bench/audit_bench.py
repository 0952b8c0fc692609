"""Benchmark of the audit log pipeline: hashing vs persistence, catch-up throughput, event → anchored latency.

Run from the repository root (it starts its own platform on ports of its own unless --no-start)::

    .venv/bin/python bench/audit_bench.py                          # defaults below
    .venv/bin/python bench/audit_bench.py --rate 1000 --seconds 40 --anchor-interval 10

Reports:
  1. hashing: RFC 6962 leaf hashes/s (200-byte leaves), MerkleLog appends/s on the memory store;
  2. persistence: leaves/s committed to Postgres in batches (leaf rows COPY + nodes + size, one transaction),
     without hashing (hashes precomputed);
  3. catch-up: leaves/s the audit worker appends from a burst already in Kafka (consume, decode, hash, commit,
     publish on audit.logs);
  4. end to end at a fixed event rate: event produced → in a signed checkpoint, → anchored on chain
     (confirmed), P50/P99; and the number of anchor transactions against the number of intervals.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from acgs.settings import Settings  # noqa: E402
from schemas.codec import AvroCodec  # noqa: E402
from schemas.topics import CONSTITUTIONAL_EVENTS  # noqa: E402
from streams.audit import pg_store  # noqa: E402
from streams.audit.merkle import MemoryNodeStore, MerkleLog, leaf_hash  # noqa: E402
from streams.audit.pg_store import AUDIT_DDL, PostgresNodeStore  # noqa: E402
from streams.audit.records import LeafAppended  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=200_000, help="leaves for hashing/persistence")
    parser.add_argument("--batch", type=int, default=2000, help="leaves per persisted batch")
    parser.add_argument("--burst", type=int, default=50_000, help="events for the catch-up measurement")
    parser.add_argument("--rate", type=int, default=1000, help="events/s for the end-to-end measurement")
    parser.add_argument("--seconds", type=float, default=40.0, help="duration of the end-to-end measurement")
    parser.add_argument("--anchor-interval", type=float, default=10.0, help="ACGS_ANCHOR_INTERVAL_S")
    parser.add_argument("--checkpoint-interval", type=float, default=1.0, help="ACGS_AUDIT_CHECKPOINT_INTERVAL_S")
    parser.add_argument("--state-dir", default="/tmp/acgs-audit-dev/bench")
    for name, port in (("kafka", 39092), ("postgres", 35432), ("redis", 36379), ("http", 38080), ("chain", 38545)):
        parser.add_argument(f"--{name}-port", type=int, default=port, help=f"{name} port of the bench platform")
    parser.add_argument("--no-start", action="store_true", help="use the configured, already running platform")
    return parser.parse_args()


def bench_settings(args: argparse.Namespace) -> Settings:
    return Settings(state_dir=Path(args.state_dir), kafka_port=args.kafka_port,
                    kafka_controller_port=args.kafka_port + 1,
                    postgres_port=args.postgres_port, redis_port=args.redis_port, http_port=args.http_port,
                    chain_port=args.chain_port,
                    anchor_interval_s=args.anchor_interval, audit_checkpoint_interval_s=args.checkpoint_interval)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


# --- 1 and 2: in-process ---------------------------------------------------------------------------------------


def bench_hashing(n: int) -> None:
    data = [os.urandom(200) for _ in range(n)]
    start = time.perf_counter()
    hashes = [leaf_hash(d) for d in data]
    hashing = time.perf_counter() - start
    log = MerkleLog(MemoryNodeStore())
    start = time.perf_counter()
    for i in range(0, n, 2000):
        log.append_leaf_hashes(hashes[i:i + 2000])
    appending = time.perf_counter() - start
    print(f"hashing      {n / hashing:>12,.0f} leaf hashes/s   (SHA-256(0x00||200 bytes))")
    print(f"merkle       {n / appending:>12,.0f} appends/s       (memory store, batches of 2,000, hashes given)")


def bench_persistence(dsn: str, n: int, batch: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    hashes = [hashlib.sha256(b"\x00%d" % i).digest() for i in range(n)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(AUDIT_DDL)
        pg_store.open_state(conn, "bench")
        log = MerkleLog(PostgresNodeStore(conn))
        start = time.perf_counter()
        for i in range(0, n, batch):
            chunk = hashes[i:i + batch]
            with conn.transaction(), conn.cursor() as cur:
                indexes = log.append_leaf_hashes(chunk)
                pg_store.insert_leaves(cur, [LeafAppended(j, h, "bench", 0, j, f"e{j}", "Bench", "bench", 0)
                                             for j, h in zip(indexes, chunk, strict=True)])
                pg_store.store_size(cur, log.size)
        seconds = time.perf_counter() - start
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print(f"persistence  {n / seconds:>12,.0f} leaves/s        (Postgres: rows + nodes + size, one transaction "
          f"per {batch:,})")


# --- 3 and 4: on the running platform -----------------------------------------------------------------------


class EventProducer:
    """Produces ConstitutionalCheckRecorded events; ``sent`` maps (partition, offset) to the send time."""

    def __init__(self, bootstrap: str) -> None:
        self.codec = AvroCodec()
        self.sent: dict[tuple[int, int], float] = {}
        self._pending: dict[int, float] = {}
        self._seq = 0
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                                  "linger.ms": 1})

    def send(self, count: int) -> None:
        for _ in range(count):
            command = str(uuid.uuid4())
            event = {"event_id": str(uuid.uuid4()), "command_id": command, "tenant_id": "bench",
                     "from_agent": "bench-a", "to_agent": "bench-b", "outcome": "accepted", "rule": None,
                     "code": None, "reason": None, "source": "stream", "checked_at": int(time.time() * 1000)}
            self._seq += 1
            self._pending[self._seq] = time.time()
            self.producer.produce(CONSTITUTIONAL_EVENTS, key=command.encode(),
                                  value=self.codec.encode(CONSTITUTIONAL_EVENTS, event),
                                  on_delivery=lambda err, msg, seq=self._seq: self._delivered(err, msg, seq))
        self.producer.poll(0)

    def _delivered(self, err, msg, seq: int) -> None:  # noqa: ANN001
        at = self._pending.pop(seq)
        if err is None:
            self.sent[(msg.partition(), msg.offset())] = at

    def flush(self) -> None:
        self.producer.flush(30)


def log_size(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT size FROM audit_log_state").fetchone()[0]


def bench_catch_up(settings: Settings, n: int) -> None:
    before = log_size(settings.postgres_dsn)
    producer = EventProducer(settings.kafka_bootstrap)
    for i in range(0, n, 1000):
        producer.send(min(1000, n - i))
    producer.flush()
    start, first = time.perf_counter(), None
    while (size := log_size(settings.postgres_dsn)) < before + n:
        if first is None and size > before:
            first = (time.perf_counter(), size)
        time.sleep(0.01)
    end = time.perf_counter()
    t0, s0 = first or (start, before)
    print(f"catch-up     {(before + n - s0) / (end - t0):>12,.0f} leaves/s        (audit worker on a burst of "
          f"{n:,} events in Kafka: consume, decode, hash, commit, publish)")


def bench_end_to_end(settings: Settings, rate: int, seconds: float) -> None:
    dsn = settings.postgres_dsn
    producer = EventProducer(settings.kafka_bootstrap)
    with psycopg.connect(dsn) as conn:
        anchors_before = conn.execute("SELECT count(*) FROM audit_anchors").fetchone()[0]
    tick = 0.01
    start = time.perf_counter()
    due = 0.0
    while (elapsed := time.perf_counter() - start) < seconds:
        want = int(elapsed * rate) - int(due)
        if want > 0:
            producer.send(want)
            due += want
        time.sleep(tick)
    producer.flush()
    produced = len(producer.sent)
    deadline = time.monotonic() + 4 * settings.anchor_interval_s + 30
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if all(_covered(conn, p, o) for p, o in _last_per_partition(producer.sent)):
                break
            time.sleep(0.2)
        leaves = conn.execute("SELECT source_partition, source_offset, leaf_index FROM audit_leaves "
                              "WHERE source_topic = %s", (CONSTITUTIONAL_EVENTS,)).fetchall()
        checkpoints = conn.execute("SELECT tree_size, timestamp_ms FROM audit_checkpoints ORDER BY tree_size"
                                   ).fetchall()
        anchors = conn.execute("SELECT tree_size, confirmed_at, submitted_at FROM audit_anchors ORDER BY tree_size"
                               ).fetchall()
    index = {(p, o): i for p, o, i in leaves}
    to_checkpoint, to_anchor = [], []
    cp_sizes, an_sizes = [c[0] for c in checkpoints], [a[0] for a in anchors]
    for position, sent_at in producer.sent.items():
        leaf = index.get(position)
        if leaf is None:
            continue
        c = bisect.bisect_right(cp_sizes, leaf)
        a = bisect.bisect_right(an_sizes, leaf)
        if c < len(checkpoints):
            to_checkpoint.append(checkpoints[c][1] / 1000 - sent_at)
        if a < len(anchors):
            to_anchor.append(anchors[a][1] / 1000 - sent_at)
    new_anchors = anchors[anchors_before:]
    sent_times = sorted(a[2] for a in new_anchors if a[2] is not None)
    gaps = [(b - a) / 1000 for a, b in zip(sent_times, sent_times[1:], strict=False)]
    intervals = seconds / settings.anchor_interval_s
    print(f"end-to-end   {produced:,} events at {rate:,}/s for {seconds:.0f}s; anchor interval "
          f"{settings.anchor_interval_s:.0f}s, checkpoint interval {settings.audit_checkpoint_interval_s:.1f}s")
    print(f"  event → signed checkpoint  P50 {pct(to_checkpoint, 50) * 1000:8.0f} ms   "
          f"P99 {pct(to_checkpoint, 99) * 1000:8.0f} ms   ({len(to_checkpoint):,} events)")
    print(f"  event → anchored (conf.)   P50 {pct(to_anchor, 50) * 1000:8.0f} ms   "
          f"P99 {pct(to_anchor, 99) * 1000:8.0f} ms   ({len(to_anchor):,} events)")
    print(f"  anchor transactions        {len(new_anchors)} for {intervals:.1f} intervals; gaps between "
          f"broadcasts min {min(gaps, default=0):.2f}s, mean {statistics.mean(gaps) if gaps else 0:.2f}s")


def _last_per_partition(sent: dict[tuple[int, int], float]) -> list[tuple[int, int]]:
    last: dict[int, int] = {}
    for p, o in sent:
        last[p] = max(last.get(p, -1), o)
    return list(last.items())


def _covered(conn: psycopg.Connection, partition: int, offset: int) -> bool:
    row = conn.execute("SELECT l.leaf_index < coalesce((SELECT max(tree_size) FROM audit_anchors), 0) "
                       "FROM audit_leaves l WHERE source_topic = %s AND source_partition = %s AND "
                       "source_offset = %s", (CONSTITUTIONAL_EVENTS, partition, offset)).fetchone()
    return bool(row and row[0])


def main() -> None:
    args = parse_args()
    bench_hashing(args.leaves)
    settings = bench_settings(args) if not args.no_start else Settings()
    platform = None
    if not args.no_start:
        from infra.process import interrupt_on_sigterm
        from infra.supervisor import Platform

        shutil.rmtree(settings.state_dir, ignore_errors=True)
        print(f"starting a platform in {settings.state_dir} ...", flush=True)
        interrupt_on_sigterm()  # a terminated run still stops its stack
        platform = Platform(settings)
        platform.start()
    try:
        bench_persistence(settings.postgres_dsn, args.leaves, args.batch)
        bench_catch_up(settings, args.burst)
        bench_end_to_end(settings, args.rate, args.seconds)
    finally:
        if platform is not None:
            platform.stop()


if __name__ == "__main__":
    main()
