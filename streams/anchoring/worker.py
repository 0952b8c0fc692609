"""The anchoring processor: the newest signed checkpoint goes on chain, at most one transaction per interval.

Cost is bounded by time, not by traffic: whatever number of checkpoints were sealed since the last anchor,
only the newest is sent (it covers every earlier one: they are consistent prefixes of it). The chain is the
truth about what is anchored (``latestAnchor``), so a restart, a lost receipt or a chain outage never causes a
double anchor beyond the contract's own refusal of a non-growing size.

One step (``AnchoringWorker.step``):
  1. wait until ``interval_s`` has passed since the last broadcast;
  2. take the newest checkpoint; stop here unless it is larger than the chain's latest anchor;
  3. check the chain's latest anchor is a prefix of this log (same root at its size, and a consistency proof
     to the new checkpoint): anchoring after a fork would bless it, so a mismatch stops anchoring loudly;
  4. submit (gas, nonce, retries, confirmations: ``AnchorSubmitter``);
  5. record the anchor in ``audit_anchors`` and on ``audit.anchors``.
If the chain is unreachable, steps back off and retry; meanwhile new checkpoints simply replace the one
waiting, so the newest is anchored when the chain returns.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import psycopg

from streams.anchoring.contract import AuditAnchorContract
from streams.anchoring.exceptions import (
    AnchorForkError,
    AnchoringError,
    ChainUnavailableError,
    NoAnchorsError,
    TransactionNotMinedError,
    TreeSizeNotGrowingError,
)
from streams.anchoring.records import CheckpointAnchored
from streams.anchoring.submitter import TRANSIENT, AnchorSubmitter, Backoff, ConfirmedAnchor
from streams.audit.exceptions import ProofError
from streams.audit.merkle import verify_consistency
from streams.audit.records import CheckpointSealed

log = logging.getLogger("acgs.anchoring")
IDLE_POLL_S = 0.25


class CheckpointSource(Protocol):
    """Port: the log's checkpoints and proofs."""

    def newest(self) -> CheckpointSealed | None: ...

    def at_size(self, tree_size: int) -> CheckpointSealed | None: ...

    def consistency_proof(self, first: int, second: int) -> list[bytes]: ...


class AnchorRecorder(Protocol):
    """Port: the anchors read model and its topic."""

    def record(self, anchor: CheckpointAnchored) -> None: ...

    def publish_pending(self) -> None: ...

    def known(self, chain_id: int, contract: str) -> tuple[set[str], int]: ...

    def last_submitted_ms(self, chain_id: int, contract: str) -> int | None: ...


@dataclass(frozen=True)
class ChainHead:
    """The contract's latest anchor (size 0: none yet)."""

    tree_size: int
    root_hash: bytes


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class AnchoringWorker:
    def __init__(self, origin: str, chain_id: int, source: CheckpointSource, contract: AuditAnchorContract,
                 submitter: AnchorSubmitter, recorder: AnchorRecorder, interval_s: float, backoff: Backoff) -> None:
        self._origin = origin
        self._chain_id = chain_id
        self._source = source
        self._contract = contract
        self._submitter = submitter
        self._recorder = recorder
        self._interval_s = interval_s
        self._backoff = backoff
        self._delays = backoff.delays()
        self._head: ChainHead | None = None
        self._reconciled = False
        self._restart_sent_ms: int | None = None
        self._fork: str | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.step())

    def step(self) -> float:
        """Do one step; return how long to wait before the next."""
        try:
            if not self._reconciled:
                self._reconcile()
            self._recorder.publish_pending()
            return self._anchor_newest()
        except (ChainUnavailableError, *TRANSIENT) as exc:
            delay = next(self._delays)
            log.warning("chain unavailable (%s); newest checkpoint waits, retry in %.1fs", exc, delay)
            return delay
        except psycopg.OperationalError as exc:
            delay = next(self._delays)
            log.warning("Postgres unavailable (%s); retry in %.1fs", exc, delay)
            return delay

    def _anchor_newest(self) -> float:
        wait = self._rate_limit_wait()  # step 1
        if wait > 0:
            return min(wait, 1.0)
        newest = self._source.newest()  # step 2
        head = self._chain_head()
        if newest is None or newest.tree_size <= head.tree_size:
            return IDLE_POLL_S
        try:
            self._check_extends(head, newest)  # step 3
        except AnchorForkError as exc:
            if self._fork != str(exc):
                log.critical("refusing to anchor: %s", exc)
                self._fork = str(exc)
            return self._interval_s
        self._fork = None
        try:
            confirmed = self._submitter.submit(newest.tree_size, newest.root_hash, newest.checkpoint_hash)  # 4
        except (TreeSizeNotGrowingError, TransactionNotMinedError) as exc:
            log.warning("anchor of size %d not made (%s); re-reading the chain", newest.tree_size, exc)
            self._head = None
            return IDLE_POLL_S
        self._delays = self._backoff.delays()
        self._head = ChainHead(confirmed.tree_size, newest.root_hash)
        self._recorder.record(self._anchored(newest, confirmed))  # step 5
        log.info("anchored tree size %d in tx %s (block %d)", confirmed.tree_size, confirmed.tx_hash,
                 confirmed.block_number)
        return 0.0

    def _rate_limit_wait(self) -> float:
        sent = self._submitter.last_broadcast_at
        if sent is None and self._restart_sent_ms is not None:
            # A restarted worker honours the interval of the transaction its predecessor sent.
            sent = time.monotonic() - (now_ms() - self._restart_sent_ms) / 1000
        return 0.0 if sent is None else sent + self._interval_s - time.monotonic()

    def _chain_head(self) -> ChainHead:
        if self._head is None:
            try:
                latest = self._contract.latest()
                self._head = ChainHead(latest.tree_size, latest.root_hash)
            except NoAnchorsError:
                self._head = ChainHead(0, b"")
        return self._head

    def _check_extends(self, head: ChainHead, newest: CheckpointSealed) -> None:
        if head.tree_size == 0:
            return
        ours = self._source.at_size(head.tree_size)
        if ours is None:
            raise AnchorForkError(head.tree_size, "this log never sealed a checkpoint of that size")
        if ours.root_hash != head.root_hash:
            raise AnchorForkError(head.tree_size, f"root on chain {head.root_hash.hex()}, "
                                                  f"log root {ours.root_hash.hex()}")
        proof = self._source.consistency_proof(head.tree_size, newest.tree_size)
        try:
            verify_consistency(head.tree_size, newest.tree_size, head.root_hash, newest.root_hash, proof)
        except ProofError as exc:
            raise AnchorForkError(head.tree_size, f"no consistency to size {newest.tree_size}: {exc}") from None

    def _anchored(self, cp: CheckpointSealed, confirmed: ConfirmedAnchor) -> CheckpointAnchored:
        sent = self._submitter.last_broadcast_at or time.monotonic()
        submitted_at = now_ms() - int((time.monotonic() - sent) * 1000)
        return CheckpointAnchored(self._origin, cp.tree_size, cp.root_hash, cp.checkpoint_hash, self._chain_id,
                                  self._contract.address, confirmed.index, confirmed.tx_hash,
                                  confirmed.block_number, confirmed.block_hash, confirmed.submitter,
                                  confirmed.block_timestamp_ms, submitted_at, now_ms())

    def _reconcile(self) -> None:
        """Record anchors that are on chain but not in the read model (a crash after mining, before recording)."""
        self._restart_sent_ms = self._recorder.last_submitted_ms(self._chain_id, self._contract.address)
        known, last_block = self._recorder.known(self._chain_id, self._contract.address)
        found = 0
        for event in self._contract.anchored_events(from_block=last_block):
            if event.transaction_hash in known:
                continue
            ours = self._source.at_size(event.tree_size)
            if ours is None or ours.root_hash != event.root_hash:
                continue  # not this log's checkpoint: verifiers report it, the read model lists ours only
            block = self._submitter.block_timestamp_ms(event.block_number)
            self._recorder.record(CheckpointAnchored(
                self._origin, event.tree_size, event.root_hash, event.checkpoint_hash, self._chain_id,
                self._contract.address, event.index, event.transaction_hash, event.block_number, event.block_hash,
                event.submitter, block, None, now_ms()))
            found += 1
        if found:
            log.info("reconciled %d anchor(s) found on chain", found)
        self._reconciled = True


__all__ = ["AnchoringWorker", "AnchoringError", "ChainHead"]
