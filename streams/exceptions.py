"""Errors shared by the stream processors."""

from __future__ import annotations


class StreamError(Exception):
    """Base class of errors raised by ``streams`` outside its domain packages."""


class PublishError(StreamError):
    """Kafka did not acknowledge every record of a batch; nothing is known about the unacknowledged ones."""

    def __init__(self, topic: str, failed: int, detail: str) -> None:
        super().__init__(f"{failed} record(s) to {topic} not acknowledged: {detail}")
        self.topic = topic
        self.failed = failed
