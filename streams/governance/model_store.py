"""Impact model checkpoints in Postgres: one row per model version, plus which decisions were learned.

The learner writes the checkpoint and the learned decision's id in one transaction, so a decision replayed
after a crash (at-least-once) is never learned twice, and a restart restores the same version.
"""

from __future__ import annotations

import orjson
import psycopg

from streams.scoring import ImpactModel

MODEL_DDL = """
CREATE TABLE IF NOT EXISTS impact_model_checkpoints (
    version    bigint PRIMARY KEY,
    state      bytea NOT NULL,
    quality    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS impact_model_learned (
    approval_id text PRIMARY KEY,
    version     bigint NOT NULL,
    approved    boolean NOT NULL,
    learned_at  timestamptz NOT NULL DEFAULT now()
);
"""
KEEP_CHECKPOINTS = 20


class PostgresModelStore:
    """Async store used by the learner (the gate worker)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.AsyncConnection | None = None

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        return self._conn

    async def load_latest(self) -> ImpactModel | None:
        conn = await self._connection()
        row = await (await conn.execute(
            "SELECT state FROM impact_model_checkpoints ORDER BY version DESC LIMIT 1")).fetchone()
        return ImpactModel.restore(bytes(row[0])) if row else None

    async def was_learned(self, approval_id: str) -> bool:
        conn = await self._connection()
        row = await (await conn.execute("SELECT 1 FROM impact_model_learned WHERE approval_id = %s",
                                        (approval_id,))).fetchone()
        return row is not None

    async def save(self, model: ImpactModel, approval_id: str | None = None, approved: bool = False) -> None:
        """Checkpoint ``model`` (and mark ``approval_id`` learned) in one transaction."""
        conn = await self._connection()
        async with conn.transaction():
            if approval_id is not None:
                await conn.execute("INSERT INTO impact_model_learned (approval_id, version, approved) "
                                   "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                   (approval_id, model.model_version, approved))
            await conn.execute(
                "INSERT INTO impact_model_checkpoints (version, state, quality) VALUES (%s, %s, %s) "
                "ON CONFLICT (version) DO UPDATE SET state = EXCLUDED.state, quality = EXCLUDED.quality",
                (model.model_version, model.checkpoint(), orjson.dumps(model.quality()).decode()))
            await conn.execute("DELETE FROM impact_model_checkpoints WHERE version < %s",
                               (model.model_version - KEEP_CHECKPOINTS,))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
