"""Shared steps of the tests that stop one of the session's services under the running platform."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.integration.conftest import wait_until


@contextmanager
def stopped(service, name: str) -> Iterator[None]:  # noqa: ANN001 - a LocalStack service, or None if external
    """Stop ``service`` for the body of the block and start it again, even if the block fails."""
    if service is None:
        pytest.skip(f"{name} is an external endpoint: the test does not stop it")
    service.stop()
    try:
        yield
    finally:
        service.start()


def send_until_accepted(api: httpx.Client, body: dict, timeout_s: float = 60) -> httpx.Response:
    """POST ``body`` until the gateway accepts it again (202)."""
    return wait_until(lambda: (r := api.post("/api/v1/messages/send", json=body)).status_code == 202 and r,
                      timeout_s, "202 again")


def wait_delivered(api: httpx.Client, command_id: str, what: str, timeout_s: float = 90) -> None:
    wait_until(lambda: api.get(f"/api/v1/commands/{command_id}?wait_ms=2000").json().get("status") == "delivered",
               timeout_s, what)
