"""Errors of notification delivery."""

from __future__ import annotations


class NotificationError(Exception):
    """Base class of errors raised by ``streams.notifications``."""


class DeliveryFailed(NotificationError):
    """One attempt to deliver a notification failed (the receiver refused it or was unreachable)."""

    def __init__(self, channel: str, detail: str) -> None:
        super().__init__(f"{channel}: {detail}")
        self.channel = channel
        self.detail = detail
