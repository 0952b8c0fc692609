"""The platform's log lines are JSON whatever the message holds."""

from __future__ import annotations

import io
import json
import logging

from acgs.logs import JsonFormatter


def _logger() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("acgs.test-logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_quotes_newlines_and_arguments_stay_one_json_line():
    logger, out = _logger()
    logger.info('a "quoted" %s\nsecond line', "value")
    (line,) = out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["msg"] == 'a "quoted" value\nsecond line'
    assert entry["level"] == "INFO" and entry["logger"] == "acgs.test-logs" and entry["ts"].endswith("Z")


def test_an_exception_is_kept_in_the_line():
    logger, out = _logger()
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    (line,) = out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["msg"] == "failed" and "ValueError: boom" in entry["exc"]
