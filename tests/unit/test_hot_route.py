"""The intake's hot route answers exactly like the FastAPI route it stands in for.

Both apps run the real MessageIntake (rules, ids, Avro encoding) over an in-memory command log, so the only
difference between them is the HTTP layer under test.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from acgs.gateway import BodyLimitAndMetrics, install_error_handlers
from commands import api as command_routes
from commands.exceptions import CommandLogUnavailable
from commands.hot_route import SEND_PATH, HotSendRoute
from commands.intake import MessageIntake
from commands.kafka_log import Appended
from schemas.codec import AvroCodec

HASH = "cdd01ef066bc6cf2"
MAX_BODY = 4096
VALID = {"from_agent": "alice", "to_agent": "bob", "tenant_id": "acme", "message_type": "command",
         "priority": "normal", "content": "hello", "constitutional_hash": HASH}


class MemoryLog:
    def __init__(self) -> None:
        self.appended: list[tuple[str, bytes, list]] = []
        self.down = False

    async def append(self, topic, key, value, headers=None):  # noqa: ANN001, ANN201
        if self.down:
            raise CommandLogUnavailable("kafka_unavailable", "Kafka brokers are down; retry later")
        self.appended.append((topic, value, headers))
        return Appended(topic, 0, len(self.appended) - 1)


class Agents:
    async def tenants_of(self, *agents):  # noqa: ANN001, ANN201
        return [{"mallory": "other-tenant"}.get(a) for a in agents]


class Idempotency:
    def __init__(self) -> None:
        self.answers: dict[str, dict] = {}

    async def claim(self, key):  # noqa: ANN001, ANN201
        return key not in self.answers

    async def complete(self, key, answer):  # noqa: ANN001, ANN201
        self.answers[key] = answer

    async def release(self, key):  # noqa: ANN001, ANN201
        self.answers.pop(key, None)

    async def answer(self, key, wait_s):  # noqa: ANN001, ANN201
        return self.answers.get(key)


class Statuses:
    async def mark_accepted(self, command_id, body):  # noqa: ANN001, ANN201
        return None


def _app(hot: bool) -> tuple[FastAPI | HotSendRoute, MemoryLog]:
    """The gateway's FastAPI app with the send route, served as the gateway serves it (hot) or plain."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(command_routes.router)
    app.add_middleware(BodyLimitAndMetrics, max_body=MAX_BODY)
    log = MemoryLog()
    app.state.intake = MessageIntake(HASH, 1024, log, AvroCodec(), Agents(), Idempotency(), Statuses())
    return (HotSendRoute(app, max_body=MAX_BODY) if hot else app), log


CASES = [
    ("valid", VALID),
    ("medium is normal", {**VALID, "priority": "medium"}),
    ("malformed json", b'{"from_agent": "a", '),
    ("empty body", b""),
    ("not an object", b"[1, 2, 3]"),
    ("unknown field", {**VALID, "surprise": 1}),
    ("missing field", {k: v for k, v in VALID.items() if k != "to_agent"}),
    ("wrong enum", {**VALID, "message_type": "gossip"}),
    ("wrong type", {**VALID, "content": 5}),
    ("content too large", {**VALID, "content": "é" * 600}),
    ("body over the limit", {**VALID, "content": "x" * (2 * MAX_BODY)}),
    ("bad tenant id", {**VALID, "tenant_id": "No Spaces!"}),
    ("wrong hash", {**VALID, "constitutional_hash": "deadbeefdeadbeef"}),
    ("missing hash", {k: v for k, v in VALID.items() if k != "constitutional_hash"}),
    ("cross-tenant", {**VALID, "to_agent": "mallory"}),
]


async def _post(app: FastAPI, body, headers=None) -> httpx.Response:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        if isinstance(body, bytes):
            return await client.post(SEND_PATH, content=body, headers={"content-type": "application/json",
                                                                        **(headers or {})})
        return await client.post(SEND_PATH, json=body, headers=headers)


def _shape(answer: httpx.Response) -> tuple:
    body = answer.json()
    if answer.status_code == 202:
        return 202, sorted(body), body["status"], body["topic"]
    return answer.status_code, body["code"], bool(body["message"]), answer.headers.get("retry-after")


@pytest.mark.parametrize(("name", "body"), CASES, ids=[c[0] for c in CASES])
def test_hot_route_answers_like_the_fastapi_route(name, body):
    (hot, hot_log), (plain, plain_log) = _app(True), _app(False)
    hot_answer = asyncio.run(_post(hot, body))
    plain_answer = asyncio.run(_post(plain, body))
    assert _shape(hot_answer) == _shape(plain_answer), (hot_answer.text[:300], plain_answer.text[:300])
    assert [a[0] for a in hot_log.appended] == [a[0] for a in plain_log.appended]
    assert "Traceback" not in hot_answer.text


def test_an_accepted_send_appends_one_command_with_the_callers_correlation_id():
    app, log = _app(True)
    answer = asyncio.run(_post(app, VALID, headers={"x-correlation-id": "corr-42"}))
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    (topic, value, headers), = log.appended
    assert topic == "acgs.commands"
    record = AvroCodec().decode(value)[1]
    assert record["command_id"] == answer.json()["command_id"] and record["correlation_id"] == "corr-42"
    assert dict(headers)["correlation_id"] == b"corr-42"


def test_kafka_down_is_503_with_retry_after_and_nothing_appended():
    app, log = _app(True)
    log.down = True
    answer = asyncio.run(_post(app, VALID))
    assert answer.status_code == 503 and answer.json()["code"] == "kafka_unavailable"
    assert answer.headers["retry-after"] == "1" and log.appended == []


def test_other_paths_and_methods_still_reach_fastapi():
    app, _ = _app(True)

    async def calls() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            return await client.get(SEND_PATH), await client.post("/api/v1/constitutional/validate",
                                                                    json={"constitutional_hash": HASH})

    wrong_method, other = asyncio.run(calls())
    assert wrong_method.status_code == 405
    assert other.status_code == 200 and other.json()["valid"] is True
