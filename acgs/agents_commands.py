"""``acgs agents``: register agents to a tenant through the gateway, show a binding, list a tenant's agents.

Registrations go through ``POST /api/v1/agents/register`` like any client's, so the gateway's checks, the
command log and the gate's first-binding-wins rule apply unchanged. Each agent gets an idempotency key
derived from the tenant and agent, so running the same registration again (after an interruption, say)
appends nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@dataclass(frozen=True)
class Outcome:
    agent_id: str
    status: str  # registered | rejected | refused | accepted (not waited for) | error
    code: str | None = None
    message: str | None = None


def read_agents(names: Iterable[str], file_lines: Iterable[str]) -> list[str]:
    """Agent ids from the arguments and a file (one per line; blank lines and ``#`` comments skipped), once each."""
    seen: dict[str, None] = {}
    for raw in [*names, *file_lines]:
        agent = raw.split("#", 1)[0].strip()
        if agent:
            seen.setdefault(agent, None)
    return list(seen)


def register(gateway: str, tenant: str, agents: list[str], constitutional_hash: str,
             wait_s: float) -> list[Outcome]:
    """Register each agent; with ``wait_s`` > 0, wait for the gate's decision on each."""
    outcomes: list[Outcome] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with httpx.Client(base_url=gateway, timeout=max(10.0, wait_s + 5)) as client, \
            Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"registering to {tenant}", total=len(agents))
        pending: list[tuple[str, str]] = []
        for agent in agents:
            body = {"agent_id": agent, "tenant_id": tenant, "constitutional_hash": constitutional_hash,
                    "idempotency_key": f"acgs-agents-register:{agent}"}
            try:
                answer = client.post("/api/v1/agents/register", json=body)
            except httpx.HTTPError as exc:
                outcomes.append(Outcome(agent, "error", "gateway_unreachable", str(exc)))
                bar.advance(task)
                continue
            if answer.status_code == 202 and wait_s > 0:
                pending.append((agent, answer.json()["command_id"]))  # its bar step once decided, below
                continue
            if answer.status_code == 202:
                outcomes.append(Outcome(agent, "accepted"))
            else:
                error = _json(answer)
                outcomes.append(Outcome(agent, "refused", error.get("code"), error.get("message")))
            bar.advance(task)
        for agent, command_id in pending:
            outcomes.append(_decision(client, agent, command_id, wait_s))
            bar.advance(task)
    order = {agent: i for i, agent in enumerate(agents)}
    return sorted(outcomes, key=lambda o: order[o.agent_id])


def _decision(client: httpx.Client, agent: str, command_id: str, wait_s: float) -> Outcome:
    try:
        answer = client.get(f"/api/v1/commands/{command_id}", params={"wait_ms": int(wait_s * 1000)})
    except httpx.HTTPError as exc:
        return Outcome(agent, "error", "gateway_unreachable", str(exc))
    status = _json(answer)
    if answer.status_code != 200:
        return Outcome(agent, "error", status.get("code"), status.get("message"))
    return Outcome(agent, status.get("status", "accepted"), status.get("code"), status.get("reason"))


def _json(answer: httpx.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {"code": f"http_{answer.status_code}", "message": answer.text[:200]}
    return body if isinstance(body, dict) else {"code": f"http_{answer.status_code}", "message": str(body)[:200]}


def show(gateway: str, tenant: str, agent: str) -> tuple[int, dict]:
    with httpx.Client(base_url=gateway, timeout=10) as client:
        answer = client.get(f"/api/v1/agents/{agent}", params={"tenant_id": tenant})
    return answer.status_code, _json(answer)


def list_agents(gateway: str, tenant: str, page_size: int = 500) -> Iterator[dict]:
    """Every agent bound to ``tenant``, in agent id order, read page by page through ``GET /api/v1/agents``.
    Raises ``ListingFailed`` with the gateway's code when a page is refused or the gateway is unreachable."""
    after = ""
    with httpx.Client(base_url=gateway, timeout=10) as client:
        while True:
            try:
                answer = client.get("/api/v1/agents", params={"tenant_id": tenant, "after": after,
                                                              "limit": page_size})
            except httpx.HTTPError as exc:
                raise ListingFailed("gateway_unreachable", str(exc)) from None
            body = _json(answer)
            if answer.status_code != 200:
                raise ListingFailed(body.get("code", f"http_{answer.status_code}"), body.get("message", ""))
            yield from body["agents"]
            if body["next"] is None:
                return
            after = body["next"]


class ListingFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
