"""Create the platform's topics with explicit partition counts and audit-log retention."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from infra.exceptions import StackError
from schemas.topics import TOPICS


def ensure_topics(bootstrap: str, partitions: int, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; return the names created. Existing topics are left as they are."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [NewTopic(t.name, num_partitions=partitions, replication_factor=1, config=t.config)
              for t in TOPICS if t.name not in existing]
    if not wanted:
        return []
    for name, future in admin.create_topics(wanted, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise StackError(f"Kafka: could not create topic {name}: {exc}") from None
    return [t.topic for t in wanted]
