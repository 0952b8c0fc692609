"""Impact-scoring throughput on one core, side by side with a decode-only baseline.

Both loops decode the same JSON event bytes (orjson) and check the constitutional hash with
`hmac.compare_digest`. The scoring loop then builds a `ScoringInput`, extracts features, scores
(prior + model + explanation) and routes. With --anomaly it also runs the per-agent anomaly
detector. The difference per event is what scoring adds to a stream processor's hot path.

    .venv/bin/python bench/scoring_bench.py --events 50000
    .venv/bin/python bench/scoring_bench.py --events 20000 --profile   # cProfile of scoring
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hmac
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acgs.settings import DEFAULT_CONSTITUTIONAL_HASH
from streams.scoring import (
    AgentAnomalyDetector,
    ImpactModel,
    RoutingPolicy,
    ScoringInput,
    SenderVolume,
    extract_features,
)

TARGET_EVENTS_PER_SECOND = 20_000
TARGET_ADDED_MICROSECONDS = 50.0
EXPECTED_HASH = DEFAULT_CONSTITUTIONAL_HASH.encode()

_CONTENTS = (
    "Summarise the weekly status report for the platform team",
    "Fetch the latest metrics for service {n} and post them to the dashboard",
    "Please transfer {amount} USD to account GB82 WEST 1234 5698 7654 32 today",
    "Security alert: suspicious login attempt, possible credential breach on host {n}",
    "Delete the staging database snapshot {n} and wipe the cache",
    "Schedule the review meeting for 2026-11-{day} with the compliance group",
    "Customer jane.doe{n}@example.com called from +1 415 555 2671 about card 4111 1111 1111 1111",
    "Heartbeat from worker {n}: all queues drained, latency nominal",
    "Apply governance policy update {n} after the audit of the payment flow",
    "Run the nightly export job for tenant reports, batch {n} of 40",
)
_TOOLS = (None, "docs.read", "metrics.list", "payments.transfer", "db.deleteSnapshot",
          "calendar.create_event", "shell.execute", None)  # fmt: skip
_TYPES = ("command", "query", "event", "notification", "governance_request", "task_request")
_PRIORITIES = ("low", "normal", "normal", "high", "critical")


def make_events(count: int, seed: int) -> list[bytes]:
    """`count` JSON-encoded agent messages, a fixed mix of benign and risky ones."""
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        n = rng.randrange(1000)
        content = rng.choice(_CONTENTS).format(n=n, amount=rng.choice((50, 900, 25_000)),
                                               day=rng.randrange(10, 28))  # fmt: skip
        payload = {"amount": rng.choice((0, 120.5, 4_500, 1_000_000))} if rng.random() < 0.4 else {}
        event = {
            "message_id": f"m-{rng.getrandbits(64):016x}",
            "tenant_id": f"tenant-{rng.randrange(5)}",
            "from_agent": f"agent-{rng.randrange(50)}",
            "to_agent": "governor",
            "message_type": rng.choice(_TYPES),
            "priority": rng.choice(_PRIORITIES),
            "content": content,
            "payload": payload,
            "tool": rng.choice(_TOOLS),
            "constitutional_hash": DEFAULT_CONSTITUTIONAL_HASH,
        }
        events.append(orjson.dumps(event))
    return events


def baseline(events: Sequence[bytes]) -> int:
    """Decode and hash-check only: the floor any processor pays."""
    accepted = 0
    for raw in events:
        message = orjson.loads(raw)
        if hmac.compare_digest(message["constitutional_hash"].encode(), EXPECTED_HASH):
            accepted += 1
    return accepted


def scoring_loop(
    model: ImpactModel, policy: RoutingPolicy, detector: AgentAnomalyDetector | None
) -> Callable[[Sequence[bytes]], int]:
    """The baseline plus features, (anomaly,) score, explanation and route."""
    volume = SenderVolume()

    def run(events: Sequence[bytes]) -> int:
        deliberated = 0
        now = 0.0
        for raw in events:
            message = orjson.loads(raw)
            if not hmac.compare_digest(message["constitutional_hash"].encode(), EXPECTED_HASH):
                continue
            now += 0.001
            action = ScoringInput(
                message["tenant_id"], message["from_agent"], message["message_type"],
                message["priority"], message["content"], message["payload"], message["tool"],
            )  # fmt: skip
            features = extract_features(action, volume, now=now)
            if detector is not None:
                features["drift"] = detector.observe(action.from_agent, features).score
            threshold = policy.threshold_for(action.tenant_id, action.message_type)
            if model.score(features, threshold=threshold).route == "deliberation":
                deliberated += 1
        return deliberated

    return run


def warm_model(labels: int, seed: int) -> ImpactModel:
    """A model that has learned `labels` human decisions (rejections of risky content)."""
    model = ImpactModel()
    rng = random.Random(seed + 1)
    for raw in make_events(labels, seed + 2):
        message = orjson.loads(raw)
        action = ScoringInput(message["tenant_id"], message["from_agent"], message["message_type"],
                              message["priority"], message["content"], message["payload"],
                              message["tool"])  # fmt: skip
        features = extract_features(action)
        risky = features["semantic"] >= 0.5 or features["permission"] >= 0.9
        model.learn(features, approved=not risky if rng.random() < 0.9 else risky)
    return model


def timed(
    runs: dict[str, Callable[[Sequence[bytes]], int]], events: Sequence[bytes], repeat: int
) -> dict[str, float]:
    """Median wall time in seconds per loop over `repeat` rounds (GC off while timing).

    Rounds interleave the loops, so load from other processes that comes and goes hits them
    alike instead of whichever loop happens to run last.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            run(events)
            times[name].append(time.perf_counter() - start)
            gc.enable()
    return {name: statistics.median(samples) for name, samples in times.items()}


def measure(args: argparse.Namespace) -> dict[str, object]:
    events = make_events(args.events, args.seed)
    policy = RoutingPolicy(per_message_type={"governance_request": 0.6})
    cold, warm = ImpactModel(), warm_model(args.warm_labels, args.seed)

    def detector() -> AgentAnomalyDetector | None:
        return AgentAnomalyDetector() if args.anomaly else None

    runs = {
        "baseline": baseline,
        "scoring_cold_prior_only": scoring_loop(cold, policy, detector()),
        "scoring_warm_model": scoring_loop(warm, policy, detector()),
    }
    for run in runs.values():  # warm-up: caches, first HST windows, allocator
        run(events[: min(len(events), 2000)])
    load_before = os.getloadavg()[0]
    seconds = timed(runs, events, args.repeat)
    load_after = os.getloadavg()[0]
    per_event = {name: s / len(events) * 1e6 for name, s in seconds.items()}
    rates = {name: round(len(events) / s) for name, s in seconds.items()}
    added = {
        name: round(us - per_event["baseline"], 2) for name, us in per_event.items() if name != "baseline"
    }
    worst_rate = min(rate for name, rate in rates.items() if name != "baseline")
    return {
        "events": len(events),
        "repeat": args.repeat,
        "anomaly_detector": args.anomaly,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],  # > ~0.5: other work ran
        "events_per_second": rates,
        "us_per_event": {name: round(us, 2) for name, us in per_event.items()},
        "added_us_per_event": added,
        "deliberated_share_warm": round(runs["scoring_warm_model"](events) / len(events), 3),
        "targets": {
            f"events_per_second>={TARGET_EVENTS_PER_SECOND}": worst_rate >= TARGET_EVENTS_PER_SECOND,
            f"added_us_per_event<={TARGET_ADDED_MICROSECONDS:g}": max(added.values())
            <= TARGET_ADDED_MICROSECONDS,
        },
    }


def profile(args: argparse.Namespace) -> None:
    events = make_events(args.events, args.seed)
    run = scoring_loop(warm_model(args.warm_labels, args.seed), RoutingPolicy(),
                       AgentAnomalyDetector() if args.anomaly else None)  # fmt: skip
    profiler = cProfile.Profile()
    profiler.runcall(run, events)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per run (default 50000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds, median kept (default 5)")
    parser.add_argument("--warm-labels", type=int, default=500,
                        help="human decisions the warm model learns first (default 500)")  # fmt: skip
    parser.add_argument("--anomaly", action=argparse.BooleanOptionalAction, default=True,
                        help="include the per-agent anomaly detector (default on)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of scoring instead")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be >= 1")
    if args.profile:
        profile(args)
        return 0
    print(json.dumps(measure(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
