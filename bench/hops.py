"""Where a command's latency goes: the fixed-rate run's commands followed through each stage of the pipeline.

Every record carries the time its producer appended it (Kafka CreateTime, set by librdkafka when the gateway
or the gate hands it over), so with the load generator's own clocks a command's path splits into:

- scheduled → appended: the load generator's queue, HTTP parsing and validation in the gateway;
- appended → answered: producer linger, the broker's acks=all append, the acknowledgement back to the handler;
- appended → gate output: linger, the gate's fetch wait, its batch window, its decision;
- gate output → read model: the gate's linger and acknowledgement, the projection's fetch, Postgres commit,
  the Redis notification.

All clocks are this machine's wall clock; Kafka's have millisecond resolution.
"""

from __future__ import annotations

from bench.loadgen import percentile
from infra.kafka_probe import end_offsets, read_between
from schemas.codec import AvroCodec
from schemas.topics import AGENT_MESSAGES, COMMANDS

STAGES = ("scheduled → appended", "appended → answered", "appended → gate output", "gate output → read model")


def offsets_now(bootstrap: str) -> dict[str, dict[int, int]]:
    return {topic: end_offsets(bootstrap, topic) for topic in (COMMANDS, AGENT_MESSAGES)}


def _appended_at(bootstrap: str, topic: str, start: dict[int, int], codec: AvroCodec) -> dict[str, float]:
    stamps = {}
    for msg in read_between(bootstrap, topic, start, end_offsets(bootstrap, topic)):
        try:
            _, record = codec.decode(msg.value())
        except Exception:  # noqa: BLE001 - a record that is not ours is simply not traced
            continue
        stamps[record["command_id"]] = msg.timestamp()[1] / 1000
    return stamps


def split(bootstrap: str, start: dict[str, dict[int, int]], trace: dict[str, tuple]) -> dict[str, dict]:
    """P50/P99 (ms) of each stage over the traced commands that reached the read model."""
    codec = AvroCodec()
    appended = _appended_at(bootstrap, COMMANDS, start[COMMANDS], codec)
    delivered = _appended_at(bootstrap, AGENT_MESSAGES, start[AGENT_MESSAGES], codec)
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    for command_id, (scheduled, answered, visible) in trace.items():
        a, d = appended.get(command_id), delivered.get(command_id)
        if a is None or d is None or visible is None:
            continue
        for name, ms in zip(STAGES, (a - scheduled, answered - a, d - a, visible - d)):
            stages[name].append(ms * 1000)
    return {name: {"p50_ms": percentile(v, 0.5), "p99_ms": percentile(v, 0.99), "n": len(v)}
            for name, v in stages.items()}
