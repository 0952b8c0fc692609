"""Helpers for the governance tests: held commands, approvals, and real local notification receivers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.integration.conftest import message, unique, wait_until

BREACH = "critical security breach detected on the payment host"


def send(api: httpx.Client, tenant: str, **overrides: object) -> str:
    sender = overrides.pop("sender", unique("agent"))
    r = api.post("/api/v1/messages/send", json=message(tenant, sender, unique("dest"), **overrides))
    assert r.status_code == 202, r.text
    return r.json()["command_id"]


def status(api: httpx.Client, command_id: str) -> dict:
    return api.get(f"/api/v1/commands/{command_id}").json()


def wait_status(api: httpx.Client, command_id: str, want: str, timeout_s: float = 20) -> dict:
    return wait_until(lambda: (s := status(api, command_id)).get("status") == want and s,
                      timeout_s, f"command {command_id} {want}")


def held(api: httpx.Client, tenant: str, content: str = BREACH) -> tuple[str, str]:
    """Send a critical command; return (command id, approval id) once it is pending deliberation."""
    command_id = send(api, tenant, priority="critical", content=content)
    found = wait_status(api, command_id, "pending_deliberation")
    return command_id, found["approval_id"]


def approval(api: httpx.Client, tenant: str, approvers: list[str], policy: str, **extra: object) -> str:
    body = {"subject": "deploy to production", "tenant_id": tenant, "requested_by": "release-bot",
            "approvers": [{"id": a} for a in approvers], "policy": policy, **extra}
    r = api.post("/api/v1/approvals", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    return r.json()["approval_id"]


def approval_status(api: httpx.Client, approval_id: str) -> str | None:
    r = api.get(f"/api/v1/approvals/{approval_id}/status")
    return r.json()["status"] if r.status_code == 200 else None


class Receiver:
    """A real HTTP server that answers 500 to its first ``failures`` POSTs, then 200; records every body."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts: list[bytes] = []
        self.accepted: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.attempts.append(body)
                ok = len(outer.attempts) > outer.failures
                if ok:
                    outer.accepted.append(body)
                self.send_response(200 if ok else 500)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"try again")

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
