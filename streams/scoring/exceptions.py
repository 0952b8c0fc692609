"""Errors raised by the impact-scoring domain core."""

from __future__ import annotations


class ScoringError(Exception):
    """Base class of every error raised by `streams.scoring`."""


class InvalidThreshold(ScoringError, ValueError):
    """A routing threshold outside [0, 1]."""

    def __init__(self, name: str, got: float) -> None:
        super().__init__(f"{name}: got {got!r}, want a number in [0, 1]")
        self.name = name
        self.got = got


class InvalidCheckpoint(ScoringError):
    """Checkpoint bytes that do not hold an `ImpactModel` state of a known format."""

    def __init__(self, got: object, want: object) -> None:
        super().__init__(f"checkpoint: got {got!r}, want {want!r}")
        self.got = got
        self.want = want
