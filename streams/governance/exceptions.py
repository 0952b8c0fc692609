"""Errors of the governance stream stage."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base class of errors raised by ``streams.governance``."""


class NoCheckpoint(GovernanceError):
    """The model store holds no checkpoint yet (the model starts from the prior)."""
