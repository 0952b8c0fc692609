"""Read-only questions to a Kafka cluster: where each partition ends, how far a group is behind, and which
records a range of offsets holds. Used by the benchmark and the integration tests; never by the platform's
data path."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient


def _probe_consumer(bootstrap: str, **extra: object) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:10]}",
                     "enable.auto.commit": False, "log_level": 0, **extra})


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The next offset to be written, per partition of ``topic``."""
    consumer = _probe_consumer(bootstrap)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        consumer.close()


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of ``topic`` the consumer group has not committed yet (all partitions)."""
    ends = end_offsets(bootstrap, topic)
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in ends])
    committed = admin.list_consumer_group_offsets([request])[group].result(timeout=10)
    done = {tp.partition: max(tp.offset, 0) for tp in committed.topic_partitions}
    return sum(end - done.get(p, 0) for p, end in ends.items())


def read_between(bootstrap: str, topic: str, start: dict[int, int], end: dict[int, int],
                 timeout_s: float = 60.0) -> Iterator[Message]:
    """Every record of ``topic`` in [start, end) per partition; raises TimeoutError if they do not all come."""
    todo = {p: off for p, off in end.items() if start.get(p, 0) < off}
    if not todo:
        return
    consumer = _probe_consumer(bootstrap, **{"enable.partition.eof": False})
    try:
        consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {sum(todo.values())} records short of {end}")
            for msg in consumer.consume(10_000, timeout=0.5):
                if msg.error() is not None:
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"{topic}: {msg.error()}")
                    continue
                p = msg.partition()
                if p not in todo or msg.offset() >= end[p]:
                    continue
                yield msg
                if msg.offset() + 1 >= end[p]:
                    del todo[p]
    finally:
        consumer.close()
