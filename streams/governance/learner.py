"""Learning from human decisions: each outcome on ``governance.decisions`` is one labelled example.

Steps per outcome: 1. skip it if its approval was already learned (replays are at-least-once);
2. ``model.learn(features, approved)``; 3. checkpoint the model and mark the approval learned, in one
Postgres transaction; 4. report drift (the caller publishes it on ``governance.anomalies``). An outcome no model could learn from
(features that are not a JSON object of features, an approval id no index holds) raises ``CodecError``: the
feed dead-letters it instead of retrying it forever.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from commands.rules import indexable
from schemas.codec import AvroCodec
from schemas.exceptions import CodecError
from schemas.topics import GOVERNANCE_DECISIONS
from streams.governance.model_store import PostgresModelStore
from streams.governance.stage import GovernanceStage

log = logging.getLogger("acgs.streams.learner")


class Learner:
    def __init__(self, stage: GovernanceStage, store: PostgresModelStore, codec: AvroCodec) -> None:
        self.stage = stage
        self.store = store
        self.codec = codec
        self._restored = asyncio.Event()
        self._restoring: asyncio.Lock | None = None

    async def ready(self) -> None:
        """Restore the newest checkpoint once (or write version 0 when there is none)."""
        if self._restored.is_set():
            return
        self._restoring = self._restoring or asyncio.Lock()
        async with self._restoring:
            if self._restored.is_set():
                return
            while True:
                try:
                    model = await self.store.load_latest()
                    if model is None:
                        await self.store.save(self.stage.model)
                    else:
                        self.stage.model = model
                    break
                except Exception as exc:  # noqa: BLE001 - Postgres not reachable yet: never score unrestored
                    log.warning("model restore failed, retrying: %s", exc)
                    await asyncio.sleep(0.5)
            log.info("impact model restored at version %s", self.stage.model.model_version)
            self._restored.set()

    async def learn(self, value: bytes) -> list[tuple[str, bytes, bytes]]:
        await self.ready()
        try:
            _, record = self.codec.decode_from(GOVERNANCE_DECISIONS, value)
        except CodecError as exc:  # the projection worker reads this topic too, and dead-letters it
            log.warning("undecodable decision record skipped: %s", exc)
            return []
        approval_id, features_json = record.get("approval_id"), record.get("features_json")
        if record.get("kind") != "outcome" or not approval_id or not features_json:
            return []
        if indexable(approval_id) is None:
            raise CodecError("invalid_outcome", "approval_id is too long or holds a NUL character")
        try:
            features = orjson.loads(features_json)
        except orjson.JSONDecodeError as exc:
            raise CodecError("invalid_outcome", f"features_json is not JSON: {exc}") from None
        if not isinstance(features, dict):
            raise CodecError("invalid_outcome", "features_json is not a JSON object")
        if await self.store.was_learned(approval_id):
            return []
        approved = record["outcome"] == "approved"
        try:
            learned = self.stage.model.learn(features, approved)
        except (TypeError, ValueError) as exc:
            raise CodecError("invalid_outcome", f"the model cannot learn these features: {exc}") from None
        await self.store.save(self.stage.model, approval_id, approved)
        log.info("learned %s (%s): model version %s", approval_id, record["outcome"], learned.model_version)
        if learned.drift is None:
            return []
        return [self.stage.drift_event(approval_id, learned.drift)]
