"""Reading the published audit log and its source events straight from Kafka (no database of ours)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, TopicPartition

from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from schemas.topics import AUDIT_CHECKPOINTS, AUDIT_LOGS
from streams.audit.records import (
    CheckpointSealed,
    LeafAppended,
    SourceRecord,
    checkpoint_from_wire,
    leaf_from_wire,
)


class KafkaLogSource:
    """The log's topics and the audited topics, read by a throwaway consumer (no group offsets are kept)."""

    def __init__(self, bootstrap: str, logs_topic: str = AUDIT_LOGS, checkpoints_topic: str = AUDIT_CHECKPOINTS,
                 codec: AvroCodec | None = None, timeout_s: float = 10.0) -> None:
        self._bootstrap = bootstrap
        self.logs_topic = logs_topic
        self.checkpoints_topic = checkpoints_topic
        self._codec = codec or AvroCodec()
        self._timeout_s = timeout_s
        self.undecodable: list[str] = []  # positions in the log's topics that did not decode
        self._meta = self._consumer()

    def _consumer(self) -> Consumer:
        return Consumer({"bootstrap.servers": self._bootstrap, "group.id": f"acgs-audit-verify-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest", "log_level": 0,
                         "fetch.wait.max.ms": 500, "queued.min.messages": 50000})

    def close(self) -> None:
        self._meta.close()

    def partitions(self, topic: str) -> list[int]:
        found = self._meta.list_topics(topic, timeout=self._timeout_s).topics.get(topic)
        if found is None or found.error is not None:
            return []
        return sorted(found.partitions)

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        return self._meta.get_watermark_offsets(TopicPartition(topic, partition), timeout=self._timeout_s)

    def offset_for_time(self, topic: str, partition: int, timestamp_ms: int) -> int:
        """First offset whose timestamp is >= ``timestamp_ms`` (the high watermark if none)."""
        (found,) = self._meta.offsets_for_times([TopicPartition(topic, partition, timestamp_ms)],
                                                timeout=self._timeout_s)
        return found.offset if found.offset >= 0 else self.watermarks(topic, partition)[1]

    def records(self, topic: str, partition: int, start: int, end: int) -> Iterator[SourceRecord]:
        """Records of [start, end) in offset order (gaps in offsets are skipped)."""
        if start >= end:
            return
        consumer = self._consumer()
        try:
            consumer.assign([TopicPartition(topic, partition, start)])
            position = start
            while position < end:
                # Ask for exactly what is left: consume() returns as soon as that many arrived.
                batch = consumer.consume(min(end - position, 10000), timeout=1.0)
                for msg in batch:
                    if msg.error() is not None:
                        if msg.error().code() != KafkaError._PARTITION_EOF:
                            raise RuntimeError(f"reading {topic}/{partition}: {msg.error()}")
                        continue
                    if msg.offset() >= end:
                        return
                    position = msg.offset() + 1
                    yield SourceRecord(topic, partition, msg.offset(), max(msg.timestamp()[1], 0), msg.value() or b"")
                if not batch:
                    # Nothing more arrives below `end` (compacted or transactional gaps): stop at the position.
                    (now,) = consumer.position([TopicPartition(topic, partition)])
                    if now.offset >= end or self.watermarks(topic, partition)[1] <= position:
                        return
        finally:
            consumer.close()

    def topic_records(self, topic: str) -> Iterator[SourceRecord]:
        for partition in self.partitions(topic):
            low, high = self.watermarks(topic, partition)
            yield from self.records(topic, partition, low, high)

    def _decoded(self, topic: str) -> Iterator[dict]:
        for record in self.topic_records(topic):
            try:
                yield self._codec.decode(record.value)[1]
            except CodecError as exc:
                self.undecodable.append(f"{topic}/{record.partition}/{record.offset}: {exc}")

    def leaves(self) -> list[LeafAppended]:
        return [leaf_from_wire(r) for r in self._decoded(self.logs_topic)]

    def checkpoints(self) -> list[CheckpointSealed]:
        return [checkpoint_from_wire(r) for r in self._decoded(self.checkpoints_topic)]
