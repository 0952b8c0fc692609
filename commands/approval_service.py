"""The write side of approvals: append a command to ``approval.commands`` and wait for its single writer's result.

The HTTP answer reflects the outcome (read-your-writes): the writer stores each command's result in Postgres
in the transaction that applied it and wakes the waiting gateway over Redis, so a refused vote comes back as
403/409/422 synchronously.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from commands.exceptions import IntakeError
from commands.intake import headers_for, now_ms
from commands.kafka_log import KafkaCommandLog
from query_api.wakeups import Wakeups, wait_for
from schemas.codec import AvroCodec
from schemas.topics import APPROVAL_COMMANDS


class ApprovalRefused(IntakeError):
    """The writer refused the command (not an approver, already voted, closed, invalid, unknown)."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status_code = status_code


class ApprovalResultTimeout(IntakeError):
    status_code = 504


class ApprovalCommands:
    def __init__(self, log: KafkaCommandLog, codec: AvroCodec, pool: AsyncConnectionPool, wakeups: Wakeups,
                 wait_ms: int) -> None:
        self._log = log
        self._codec = codec
        self._pool = pool
        self._wakeups = wakeups
        self._wait_s = wait_ms / 1000

    async def submit(self, kind: str, approval_id: str, tenant_id: str | None, body: dict[str, Any],
                     correlation_id: str) -> dict[str, Any]:
        """Append one command; return the writer's resulting state, or raise ApprovalRefused."""
        request_id = str(uuid.uuid4())
        record = {"request_id": request_id, "type": kind, "approval_id": approval_id, "tenant_id": tenant_id,
                  "body_json": orjson.dumps(body).decode(), "issued_at": now_ms()}
        await self._log.append(APPROVAL_COMMANDS, approval_id, self._codec.encode(APPROVAL_COMMANDS, record),
                               headers_for(correlation_id, request_id, tenant_id))
        result = await wait_for(self._wakeups, f"approval-result:{request_id}", self._wait_s,
                                lambda: self._result(request_id))
        if result is None:
            raise ApprovalResultTimeout("approval_result_timeout",
                                        "the command was appended but its writer has not answered yet",
                                        request_id=request_id)
        status_code, code, message, state = result
        if status_code >= 400:
            raise ApprovalRefused(status_code, code, message)
        return state

    async def _result(self, request_id: str) -> tuple | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT status_code, code, message, state FROM approval_results "
                                     "WHERE request_id = %s", (request_id,))
            return await cur.fetchone()
