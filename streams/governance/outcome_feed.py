"""Feeding human outcomes to the learner without a faust stream over every decision.

``governance.decisions`` carries one record per scored command and, now and then, a human outcome. As a
faust agent the learner paid faust's full per-message cost for every record only to skip all but the
outcomes; profiled under load that was a large share of the gate's CPU. Here a librdkafka consumer on a
thread reads the topic, looks only at the ``kind`` header, and hands outcome values to the event loop,
where the learner runs next to the scorer it updates. Offsets are stored after each batch is handled
(outcomes included, once learned), so delivery stays at-least-once; the learner skips repeats itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable

from confluent_kafka import Message, TopicPartition

from projections.base import next_offsets
from projections.consuming import FETCH_ON_ARRIVAL, make_consumer, poll_batch
from schemas.exceptions import CodecError
from schemas.topics import GOVERNANCE_DECISIONS

log = logging.getLogger("acgs.streams.learner")
GROUP_ID = "acgs-impact-learner"


def is_outcome(headers: list[tuple[str, bytes]] | None) -> bool:
    return any(name == "kind" and value == b"outcome" for name, value in headers or ())


class OutcomeFeed:
    """Calls ``on_outcome(value)`` on ``loop`` for every outcome record, in log order per partition."""

    def __init__(self, bootstrap: str, loop: asyncio.AbstractEventLoop,
                 on_outcome: Callable[[bytes], Awaitable[None]], group_id: str = GROUP_ID,
                 dead_letters: Callable[[Message, CodecError], None] | None = None) -> None:
        self._bootstrap = bootstrap
        self._dead_letters = dead_letters
        self._loop = loop
        self._on_outcome = on_outcome
        self._group_id = group_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outcome-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        consumer = make_consumer(self._bootstrap, self._group_id, **{"enable.auto.commit": True, **FETCH_ON_ARRIVAL})
        consumer.subscribe([GOVERNANCE_DECISIONS])
        try:
            while not self._stop.is_set():
                messages = [m for m in poll_batch(consumer, 2000, 0.5) if m.error() is None]
                for msg in messages:
                    if is_outcome(msg.headers()):
                        self._learn(msg)
                if messages:
                    nexts = next_offsets([(m.topic(), m.partition(), m.offset()) for m in messages])
                    consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in nexts.items()])
        finally:
            consumer.close()  # commits what was stored

    def _learn(self, msg: Message) -> None:
        """Run the learner on the loop and wait: the record's offset is stored only after it has learned, or
        after a record it can never learn from went to the dead-letter topic."""
        while not self._stop.is_set():
            future = asyncio.run_coroutine_threadsafe(self._on_outcome(msg.value()), self._loop)
            while True:
                try:
                    future.result(timeout=0.5)
                    return
                except CodecError as exc:
                    log.error("outcome %s/%s/%s cannot be learned: %s", msg.topic(), msg.partition(), msg.offset(), exc)
                    if self._dead_letters is not None:
                        self._dead_letters(msg, exc)
                    return
                except concurrent.futures.TimeoutError:
                    if self._stop.is_set():  # shutting down: not stored, so read again next time
                        future.cancel()
                        return
                except Exception as exc:  # noqa: BLE001 - Postgres down and the like: retry, never skip
                    log.warning("learning from an outcome failed, retrying: %s", exc)
                    self._stop.wait(1.0)
                    break
