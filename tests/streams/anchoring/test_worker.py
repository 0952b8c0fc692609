"""The anchoring worker's decisions, with fakes for the chain and the log: what it anchors, and when."""

from __future__ import annotations

import time

from streams.anchoring.contract import Anchor, AnchoredEvent
from streams.anchoring.exceptions import ChainUnavailableError, NoAnchorsError, TreeSizeNotGrowingError
from streams.anchoring.submitter import Backoff, ConfirmedAnchor
from streams.anchoring.worker import AnchoringWorker
from streams.audit.records import CheckpointSealed
from streams.audit.sealing import seal
from tests.streams.audit.fakes import KEY, ORIGIN, build_log

INTERVAL = 10.0


class FakeSource:
    def __init__(self) -> None:
        self.built = build_log(size=40, sealed_at=(5, 13, 21), anchored=())
        self.checkpoints = {cp.tree_size: cp for cp in self.built.checkpoints}

    def grow_to(self, size: int) -> CheckpointSealed:
        """Seal a checkpoint at ``size`` (<= 40) as the audit worker would."""
        from streams.audit.merkle import MerkleLog

        log = MerkleLog(self.built.store, size)
        cp = seal(log, ORIGIN, KEY, self.newest(), 9000 + size)
        self.checkpoints[size] = cp
        return cp

    def newest(self) -> CheckpointSealed | None:
        return self.checkpoints[max(self.checkpoints)] if self.checkpoints else None

    def at_size(self, tree_size: int) -> CheckpointSealed | None:
        return self.checkpoints.get(tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        from streams.audit.merkle import MerkleLog

        return MerkleLog(self.built.store, 40).consistency_proof(first, second)


class FakeContract:
    address = "0x000000000000000000000000000000000000a11c"

    def __init__(self) -> None:
        self.anchors: list[Anchor] = []

    def latest(self) -> Anchor:
        if not self.anchors:
            raise NoAnchorsError()
        return self.anchors[-1]

    def anchored_events(self, from_block: int = 0) -> list[AnchoredEvent]:
        return []


class FakeSubmitter:
    def __init__(self, contract: FakeContract) -> None:
        self.contract = contract
        self.calls: list[int] = []
        self.last_broadcast_at: float | None = None
        self.failure: Exception | None = None

    def submit(self, tree_size: int, root_hash: bytes, checkpoint_hash: bytes) -> ConfirmedAnchor:
        if self.failure is not None:
            raise self.failure
        self.calls.append(tree_size)
        self.last_broadcast_at = time.monotonic()
        self.contract.anchors.append(Anchor(tree_size, root_hash, checkpoint_hash, 0, "0xme"))
        return ConfirmedAnchor(len(self.contract.anchors) - 1, tree_size, f"0x{tree_size:064x}", 7, "0xblock",
                               7000, 21000, "0xme")

    def block_timestamp_ms(self, number: int) -> int:
        return 0

    def interval_elapsed(self) -> None:
        self.last_broadcast_at = time.monotonic() - INTERVAL


class FakeRecorder:
    def __init__(self) -> None:
        self.recorded = []

    def record(self, anchor) -> None:  # noqa: ANN001
        self.recorded.append(anchor)

    def publish_pending(self) -> None:
        pass

    def known(self, chain_id: int, contract: str) -> tuple[set[str], int]:
        return set(), 0

    def last_submitted_ms(self, chain_id: int, contract: str) -> int | None:
        return self.sent_ms

    sent_ms: int | None = None


def worker() -> tuple[AnchoringWorker, FakeSource, FakeContract, FakeSubmitter, FakeRecorder]:
    source, contract, recorder = FakeSource(), FakeContract(), FakeRecorder()
    submitter = FakeSubmitter(contract)
    w = AnchoringWorker(ORIGIN, 31337, source, contract, submitter, recorder, INTERVAL, Backoff(0.5, 4.0))
    return w, source, contract, submitter, recorder


def test_only_the_newest_of_the_waiting_checkpoints_is_anchored():
    w, _, _, submitter, recorder = worker()
    w.step()
    assert submitter.calls == [21]
    assert [(a.tree_size, a.tx_hash, a.chain_id) for a in recorder.recorded] == [(21, f"0x{21:064x}", 31337)]


def test_no_second_transaction_within_the_interval_however_many_checkpoints_arrive():
    w, source, _, submitter, _ = worker()
    w.step()
    for size in (25, 30, 33):
        source.grow_to(size)
        wait = w.step()
        assert 0 < wait <= INTERVAL
    assert submitter.calls == [21]
    submitter.interval_elapsed()
    w.step()
    assert submitter.calls == [21, 33]


def test_nothing_is_sent_when_the_chain_already_holds_the_newest():
    w, _, _, submitter, _ = worker()
    w.step()
    submitter.interval_elapsed()
    w.step()
    assert submitter.calls == [21]


def test_while_the_chain_is_unreachable_checkpoints_queue_and_the_newest_goes_first():
    w, source, _, submitter, recorder = worker()
    submitter.failure = ChainUnavailableError("estimate gas", OSError("connection refused"))
    delays = [w.step() for _ in range(4)]
    assert delays == [0.5, 1.0, 2.0, 4.0]  # backing off, capped
    source.grow_to(30)
    source.grow_to(38)
    submitter.failure = None
    w.step()
    assert submitter.calls == [38] and [a.tree_size for a in recorder.recorded] == [38]
    assert w.step() > 0  # and the backoff reset: next wait is the interval's rest


def test_a_chain_anchor_that_is_not_a_prefix_of_the_log_stops_anchoring():
    w, source, contract, submitter, _ = worker()
    contract.anchors.append(Anchor(13, b"\xaa" * 32, b"\xbb" * 32, 0, "0xother"))
    assert w.step() == INTERVAL
    contract.anchors[-1] = Anchor(17, b"\xaa" * 32, b"\xbb" * 32, 0, "0xother")  # a size we never sealed
    w._head = None
    assert w.step() == INTERVAL
    assert submitter.calls == []


def test_a_chain_anchor_that_is_a_prefix_is_extended():
    w, source, contract, submitter, _ = worker()
    cp = source.checkpoints[13]
    contract.anchors.append(Anchor(13, cp.root_hash, cp.checkpoint_hash, 0, "0xme"))
    w.step()
    assert submitter.calls == [21]


def test_a_lost_race_on_the_size_re_reads_the_chain():
    w, _, contract, submitter, _ = worker()
    submitter.failure = TreeSizeNotGrowingError(21, 21)
    w.step()
    assert w._head is None and submitter.calls == []


def test_a_restarted_worker_waits_out_the_interval_of_its_predecessors_transaction():
    w, _, _, submitter, recorder = worker()
    recorder.sent_ms = int(time.time() * 1000) - 2000  # 2 s ago
    wait = w.step()
    assert submitter.calls == [] and 0 < wait <= INTERVAL - 1.9
