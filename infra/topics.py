"""Create the platform's topics with explicit partition counts and audit-log retention, and keep them so.

A topic that exists already (an earlier version created it, or an operator) gets the configs of its
contract set again where they differ (``schemas.topics``: retention, record size), since every reader relies
on them. Its partition count is only reported: adding partitions would move keys to other partitions and
break the per-key order the topics promise, so that stays an operator's decision.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from infra.exceptions import StackError
from schemas.topics import TOPICS

log = logging.getLogger("acgs.infra")


def ensure_topics(bootstrap: str, partitions: int, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics and restore the contract configs of existing ones; return the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=timeout_s)
    existing = metadata.topics
    # One replica per broker up to three: a local single broker, or an external cluster's usual durability.
    replicas = min(3, max(1, len(metadata.brokers)))
    wanted = [NewTopic(t.name, num_partitions=partitions, replication_factor=replicas, config=t.config)
              for t in TOPICS if t.name not in existing]
    for name, future in (admin.create_topics(wanted, operation_timeout=timeout_s).items() if wanted else ()):
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise StackError(f"Kafka: could not create topic {name}: {exc}") from None
    _restore_configs(admin, [t for t in TOPICS if t.name in existing], timeout_s)
    for t in TOPICS:
        if t.name in existing and len(existing[t.name].partitions) < partitions:
            log.warning("topic %s has %d partitions, fewer than the %d configured; left as it is (adding "
                        "partitions would move keys)", t.name, len(existing[t.name].partitions), partitions)
    return [t.topic for t in wanted]


def _restore_configs(admin: AdminClient, specs: list, timeout_s: float) -> None:  # noqa: ANN001
    if not specs:
        return
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t.name) for t in specs]
    current = {r.name: {k: e.value for k, e in f.result(timeout=timeout_s).items()}
               for r, f in admin.describe_configs(resources).items()}
    changes = []
    for t in specs:
        drift = {k: v for k, v in t.config.items() if current[t.name].get(k) != v}
        if drift:
            log.warning("topic %s: restoring %s (was %s)", t.name, drift,
                        {k: current[t.name].get(k) for k in drift})
            changes.append(ConfigResource(ConfigResource.Type.TOPIC, t.name, incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in drift.items()]))
    for resource, future in (admin.incremental_alter_configs(changes).items() if changes else ()):
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise StackError(f"Kafka: could not set the configs of topic {resource.name}: {exc}") from None
