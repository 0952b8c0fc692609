"""Composition root of the stream worker: the faust app that runs the constitutional gate.

Delivery is at-least-once: the gate takes its source records in batches, publishes a batch's outputs through
librdkafka and waits for the broker's acknowledgement of all of them before faust acknowledges (and later
commits) the batch's source offsets. The outputs carry deterministic ids, so a replay after a crash only
repeats identical events, which every projection ignores.
"""

from __future__ import annotations

import asyncio
import logging

import faust
import redis.asyncio as aioredis

from acgs.runtime import freeze_startup_objects
from acgs.settings import Settings, get_settings
from schemas.codec import AvroCodec
from schemas.topics import COMMANDS, PRODUCER_MAX_BYTES
from streams import faust_transport
from projections.consuming import SESSION_TIMEOUT_MS
from projections.runner import DeadLetters
from streams.batch_publisher import AsyncBatchPublisher
from streams.directory import PostgresAgentDirectory
from streams.exceptions import PublishError
from streams.gate import PROCESSOR, ConstitutionalGate, Output, RawRecord, decide
from streams.governance.learner import Learner
from streams.governance.model_store import PostgresModelStore
from streams.governance.outcome_feed import OutcomeFeed
from streams.governance.stage import GovernanceStage
from streams.scoring import RoutingPolicy

log = logging.getLogger("acgs.streams.gate")

# A batch closes at GATE_BATCH records or GATE_BATCH_WAIT_S after it opened, whichever comes first.
GATE_BATCH = 500
GATE_BATCH_WAIT_S = 0.005
# How stale the consumer's view of the topics may get (see create_app).
CONSUMER_METADATA_MAX_AGE_MS = 5_000
GATE_SESSION_TIMEOUT_S = SESSION_TIMEOUT_MS / 1000  # the same as every librdkafka consumer of the platform
# How often the gate's fetch settings follow its input rate (streams/faust_transport.py, fetch_for_rate).
FETCH_CHECK_S = 0.5


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        "acgs-constitutional-gate",
        broker=f"{faust_transport.SCHEME}://{settings.kafka_bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Outputs go through librdkafka (streams/batch_publisher.py); faust's own producer stays idle.
        broker_commit_interval=0.5,
        # A group joined while the broker was still loading its topics gets no partitions, and aiokafka only
        # rejoins once fresh metadata shows them: refresh every few seconds, not aiokafka's 5 minutes.
        consumer_metadata_max_age_ms=CONSUMER_METADATA_MAX_AGE_MS,
        # A gate that crashed holds its partitions until its session expires: 15 s, not faust's 60 s, before a
        # restarted gate (or another instance) takes them over. Heartbeats still go every 3 s.
        broker_session_timeout=GATE_SESSION_TIMEOUT_S,
        stream_wait_empty=False,
        # Commands up to the platform's record limit (a 1 MiB content and its payload) in one fetch.
        consumer_max_fetch_size=PRODUCER_MAX_BYTES,
        producer_max_request_size=PRODUCER_MAX_BYTES,
    )
    source = app.topic(COMMANDS, key_type=bytes, value_type=bytes)
    redis_client = aioredis.Redis.from_url(settings.redis_dsn)
    directory = PostgresAgentDirectory(settings.postgres_dsn, redis_client)
    codec = AvroCodec()
    governance = GovernanceStage(
        codec, RoutingPolicy(settings.impact_threshold, settings.impact_threshold_per_tenant,
                             settings.impact_threshold_per_message_type),
        settings.governance_reviewers, settings.deliberation_sla_seconds)
    gate = ConstitutionalGate(codec, directory, settings.constitutional_hash, settings.max_content_bytes, governance,
                              require_registration=settings.require_registration)
    learner = Learner(governance, PostgresModelStore(settings.postgres_dsn), codec)

    @app.task(on_leader=False)
    async def restore_model() -> None:
        """Restore the newest model checkpoint before scoring (the agents wait for it)."""
        await learner.ready()
        freeze_startup_objects("gate")  # after the restored model and faust's started services exist

    publisher = AsyncBatchPublisher(settings.kafka_bootstrap, "acgs-gate")

    async def learn(value: bytes) -> None:
        drift = [Output(topic, key, event, []) for topic, key, event in await learner.learn(value)]
        await _publish(publisher, drift)

    @app.task(on_leader=False)
    async def impact_learner() -> None:
        """Human outcomes (kind=outcome on governance.decisions) become labelled examples, on this loop."""
        await learner.ready()
        feed = OutcomeFeed(settings.kafka_bootstrap, asyncio.get_running_loop(), learn,
                           dead_letters=DeadLetters(settings.kafka_bootstrap, codec, "impact-learner"))
        feed.start()
        try:
            await asyncio.Event().wait()  # until the worker stops and cancels this task
        finally:
            await asyncio.get_running_loop().run_in_executor(None, feed.stop)

    seen = [0]  # records taken since the last fetch-mode check

    @app.timer(FETCH_CHECK_S, on_leader=False)
    async def adapt_fetch() -> None:
        """Long-poll for records while they are few, batch fetches while they are many."""
        rate, seen[0] = seen[0] / FETCH_CHECK_S, 0
        faust_transport.set_fetch(app.consumer, faust_transport.fetch_for_rate(rate))

    @app.agent(source, name=PROCESSOR)
    async def constitutional_gate(stream):  # noqa: ANN001 - faust's stream type
        """Batches of up to GATE_BATCH records: decide each, publish all outputs, then faust acks the batch."""
        await learner.ready()
        async for events in stream.take_events(GATE_BATCH, within=GATE_BATCH_WAIT_S):
            seen[0] += len(events)
            raws = [RawRecord(m.topic, m.partition, m.offset, m.key, m.value, list(m.headers or []))
                    for m in (event.message for event in events)]
            await _publish(publisher, [output for outputs in await decide(gate, raws) for output in outputs])

    return app


async def _publish(publisher: AsyncBatchPublisher, outputs: list) -> None:
    """Publish until acknowledged: the batch's source records are acked only after this returns."""
    delay = 0.1
    while True:
        try:
            return await publisher.publish(outputs)
        except PublishError as exc:
            # Re-sending is safe: every output id is derived from its command, so projections keep one copy.
            log.warning("gate outputs not acknowledged, retrying in %.1fs: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


app = create_app(get_settings())
