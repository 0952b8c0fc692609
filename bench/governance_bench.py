"""Governance benchmark: scoring + routing throughput per worker, and approval → delivery latency.

Part 1 (in process, one core): the gate's hot path over Avro records of ``acgs.commands``:
  baseline   decode (Confluent wire + Avro) + constitutional hash check;
  scoring    the same + GovernanceStage.score (features, anomaly detector, model, explanation) + route;
  staged     the same + the ``governance.decisions`` record encoded (what the worker really emits).
Part 2 (needs a running platform, ``--gateway``): for N held critical messages, the time from the approve
POST being sent to the released message arriving on ``agent.messages`` (P50/P99).

    .venv/bin/python bench/governance_bench.py --events 50000
    .venv/bin/python bench/governance_bench.py --events 50000 --gateway http://127.0.0.1:8080 \\
        --bootstrap 127.0.0.1:9092 --approvals 100
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acgs.settings import DEFAULT_CONSTITUTIONAL_HASH  # noqa: E402
from commands import rules  # noqa: E402
from schemas.codec import AvroCodec  # noqa: E402
from schemas.topics import COMMANDS  # noqa: E402
from streams.governance.stage import GovernanceStage  # noqa: E402
from streams.scoring import RoutingPolicy  # noqa: E402

CONTENTS = ["please summarise the weekly report", "hello there, status update attached",
            "transfer 2500 EUR to the vendor account", "delete the stale credentials from the vault",
            "critical security breach on host db-7", "schedule the quarterly compliance audit"]


def records(n: int) -> list[bytes]:
    codec, rnd = AvroCodec(), random.Random(7)
    out = []
    for i in range(n):
        payload = json.dumps({"amount": rnd.choice([0, 50, 2500]), "tool": rnd.choice(["read", "transfer"])})
        out.append(codec.encode(COMMANDS, {
            "command_id": str(uuid.UUID(int=i)), "message_id": str(uuid.UUID(int=i + n)),
            "tenant_id": f"tenant-{i % 20}", "from_agent": f"agent-{i % 500}", "to_agent": f"agent-{(i + 1) % 500}",
            "message_type": rnd.choice(["command", "query", "governance_request"]),
            "priority": rnd.choice(["low", "normal", "high"]), "content": rnd.choice(CONTENTS),
            "payload_json": payload, "constitutional_hash": DEFAULT_CONSTITUTIONAL_HASH, "conversation_id": None,
            "idempotency_key": None, "correlation_id": "c", "issued_at": 1}))
    return out


def run(label: str, values: list[bytes], step) -> float:  # noqa: ANN001
    codec = AvroCodec()
    gc.collect()
    started = time.perf_counter()
    for value in values:
        _, record = codec.decode(value)
        if rules.check_constitutional_hash(record["constitutional_hash"], DEFAULT_CONSTITUTIONAL_HASH) is None:
            step(record)
    elapsed = time.perf_counter() - started
    rate = len(values) / elapsed
    print(f"  {label:10} {rate:12,.0f} events/s  {1e6 / rate:7.2f} µs/event")
    return 1e6 / rate


def throughput(n: int) -> dict:
    values = records(n)
    stage = GovernanceStage(AvroCodec(), RoutingPolicy())
    delivered_at = {"delivered_at": 1}
    print(f"Part 1: {n} events, one core")
    run("warm-up", values[: n // 5], lambda r: stage.stage(r, delivered_at, []))
    base = run("baseline", values, lambda r: None)
    scoring = run("scoring", values, lambda r: stage.score(r))
    staged = run("staged", values, lambda r: stage.stage(r, delivered_at, []))
    result = {"baseline_us": base, "scoring_us": scoring, "staged_us": staged,
              "scoring_events_per_s": 1e6 / scoring, "staged_events_per_s": 1e6 / staged,
              "added_us_scoring": scoring - base, "added_us_staged": staged - base}
    print(f"  added per event: scoring {result['added_us_scoring']:.1f} µs, "
          f"scoring + decision record {result['added_us_staged']:.1f} µs")
    return result


class Arrivals:
    """Records when each command id first arrives on agent.messages (a consumer from the log end)."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                                   "enable.auto.commit": False, "fetch.wait.max.ms": 5, "log_level": 0})
        parts = self._consumer.list_topics("agent.messages", timeout=10).topics["agent.messages"].partitions
        ends = [TopicPartition("agent.messages", p, self._consumer.get_watermark_offsets(
            TopicPartition("agent.messages", p), timeout=10)[1]) for p in parts]
        self._consumer.assign(ends)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        codec = AvroCodec()
        while not self._stop.is_set():
            msg = self._consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                self.seen.setdefault(codec.decode(msg.value())[1]["command_id"], time.perf_counter())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._consumer.close()


def approval_latency(gateway: str, bootstrap: str, n: int) -> dict:
    import httpx

    client = httpx.Client(base_url=gateway, timeout=30)
    arrivals = Arrivals(bootstrap)
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    held = []
    for i in range(n):
        r = client.post("/api/v1/messages/send", json={
            "from_agent": f"bench-agent-{i}", "to_agent": "bench-sink", "tenant_id": tenant,
            "message_type": "command", "priority": "critical", "content": "critical security breach",
            "constitutional_hash": DEFAULT_CONSTITUTIONAL_HASH})
        held.append(r.json()["command_id"])
    approvals = {}
    deadline = time.monotonic() + 60
    while len(approvals) < n and time.monotonic() < deadline:
        for cid in held:
            if cid not in approvals:
                body = client.get(f"/api/v1/commands/{cid}").json()
                if body.get("approval_id"):
                    approvals[cid] = body["approval_id"]
    latencies = []
    for cid, aid in approvals.items():
        started = time.perf_counter()
        r = client.post(f"/api/v1/approvals/{aid}/approve", json={"approver_id": "bench-reviewer"})
        assert r.status_code == 200, r.text
        answered = time.perf_counter()
        while cid not in arrivals.seen and time.perf_counter() - started < 10:
            time.sleep(0.0005)
        if cid in arrivals.seen:
            latencies.append((arrivals.seen[cid] - started, answered - started))
    arrivals.close()
    delivered = sorted(d for d, _ in latencies)
    answers = sorted(a for _, a in latencies)

    def pct(values: list[float], q: float) -> float:
        return 1000 * values[min(len(values) - 1, int(q * len(values)))]

    result = {"approvals": len(latencies), "delivered_p50_ms": pct(delivered, 0.5),
              "delivered_p99_ms": pct(delivered, 0.99), "http_answer_p50_ms": pct(answers, 0.5),
              "http_answer_p99_ms": pct(answers, 0.99), "delivered_mean_ms": 1000 * statistics.mean(delivered)}
    print(f"Part 2: {len(latencies)} approvals: approve POST → delivered on agent.messages "
          f"P50 {result['delivered_p50_ms']:.1f} ms, P99 {result['delivered_p99_ms']:.1f} ms; "
          f"HTTP answer (vote applied by the writer) P50 {result['http_answer_p50_ms']:.1f} ms, "
          f"P99 {result['http_answer_p99_ms']:.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50000)
    parser.add_argument("--gateway", help="base URL of a running platform (enables part 2)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--approvals", type=int, default=100)
    args = parser.parse_args()
    report = {"throughput": throughput(args.events)}
    if args.gateway:
        report["approval_latency"] = approval_latency(args.gateway, args.bootstrap, args.approvals)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
