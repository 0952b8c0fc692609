"""Structured logs: every process of the platform writes one JSON object per line.

The fields are ``ts`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``, ``msg``, plus ``exc`` with the
formatted traceback when a record carries one. Each line is a valid JSON document whatever the message
holds (quotes, newlines), so ``jq`` and log shippers can read the files under ``.state/<stack>/logs/``.
"""

from __future__ import annotations

import logging
import logging.config
import time

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


def logging_config(level: str | int) -> dict:
    """A ``logging.config.dictConfig`` document: the root logger at ``level``, JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": ["stderr"]},
    }


def configure(level: str | int) -> None:
    logging.config.dictConfig(logging_config(level))
