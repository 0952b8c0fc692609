"""Errors of the read side, translated to HTTP answers at the router."""

from __future__ import annotations


class QueryError(Exception):
    """A query cannot be answered as asked; ``status``/``code`` become the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
