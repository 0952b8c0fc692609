"""Projection rebuild on an otherwise idle stack: ``python -m bench.rebuild_bench --commands 240000``.

Appends the commands straight to ``acgs.commands`` (no HTTP), waits until the gate and the projections have
processed them all, then rebuilds the inbox projection ``--runs`` times, each beside a raw COPY of the same
rows into an identically indexed table. Uses ``make bench``'s stack and ports: do not run both at once.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import uuid

from confluent_kafka import Producer

from bench.run import _drained, bench_settings, command_record, rebuild_vs_copy
from infra.process import interrupt_on_sigterm, wait_until
from infra.supervisor import Platform
from schemas.codec import AvroCodec


def append_commands(bootstrap: str, count: int, content_bytes: int) -> None:
    codec = AvroCodec()
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 20})
    for i in range(count):
        record = command_record(content_bytes, str(uuid.uuid4()), str(uuid.uuid4()), agent=i % 64)
        while True:
            try:
                producer.produce("acgs.commands", key=record["from_agent"], value=codec.encode("acgs.commands", record))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=240_000, help="commands to append (default 240000)")
    parser.add_argument("--runs", type=int, default=2, help="rebuilds, each beside a raw COPY (default 2)")
    parser.add_argument("--content-bytes", type=int, default=200, help="message content size (default 200)")
    args = parser.parse_args(argv)
    settings = bench_settings()
    if settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)
    interrupt_on_sigterm()  # a terminated run still stops its stack
    platform = Platform(settings)
    platform.start()
    try:
        print(f"appending {args.commands:,} commands and waiting for the pipeline...", flush=True)
        append_commands(settings.kafka_bootstrap, args.commands, args.content_bytes)
        wait_until(lambda: _drained(settings), 1800, "pipeline drained")
        print("| run | rebuild events/s | raw COPY rows/s | ratio | autovacuum during rebuild | CPU s by process |\n"
              "|---|---|---|---|---|---|")
        for run in range(1, args.runs + 1):
            r = rebuild_vs_copy(settings)
            rate = r["rebuild"]["events_per_second"]
            during = r["during_rebuild"]
            print(f"| {run} | {rate:,.0f} | {r['copy_rows_per_s']:,.0f} | {rate / r['copy_rows_per_s']:.0%} "
                  f"| autovacuum {during['autovacuum']['busy_share']:.0%} | "
                  + ", ".join(f"{g} {v:.1f}" for g, v in during["cpu_s"].items()) + " |", flush=True)
    finally:
        platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
