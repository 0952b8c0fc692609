"""Errors of the local-stack manager."""


class StackError(RuntimeError):
    """A local service could not be installed, started or reached; the message says what to do."""
