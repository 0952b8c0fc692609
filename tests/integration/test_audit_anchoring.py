"""Anchoring on the real local chain: the newest checkpoint, one transaction per interval, outages queue."""

from __future__ import annotations

import os
import signal
import time

import psycopg

from streams.anchoring.app import web3_for
from streams.anchoring.contract import AuditAnchorContract
from tests.integration.audit_support import log_size, logged, publish_events, seal, wait_anchored
from tests.integration.conftest import unique, wait_until


def _contract(platform) -> AuditAnchorContract:  # noqa: ANN001
    return AuditAnchorContract.at(web3_for(platform.settings.eth_rpc, 5),
                                  platform.extra_env["ANCHOR_CONTRACT_ADDRESS"])


def _anchors_since(api, since_ms: int) -> list[dict]:  # noqa: ANN001
    anchors = api.get("/api/v1/audit/anchors", params={"limit": 1000}).json()["anchors"]
    return sorted((a for a in anchors if (a["submitted_at"] or 0) >= since_ms), key=lambda a: a["submitted_at"])


def test_a_stream_of_checkpoints_costs_one_anchor_transaction_per_interval(platform, api):
    settings = platform.settings
    interval_ms = settings.anchor_interval_s * 1000
    started_ms = int(time.time() * 1000)
    tenant = unique("anchor")
    # A steady trickle over three intervals: a checkpoint every 0.3 s, far more than the anchors allowed.
    publish_events(settings.kafka_bootstrap, tenant, int(30 * settings.anchor_interval_s), pause_s=0.1)
    size = log_size(settings.postgres_dsn)
    seal(api)
    wait_anchored(api, size)
    anchors = _anchors_since(api, started_ms)
    gaps = [b["submitted_at"] - a["submitted_at"] for a, b in zip(anchors, anchors[1:], strict=False)]
    assert all(gap >= interval_ms - 20 for gap in gaps), gaps  # never two transactions in one interval
    with psycopg.connect(settings.postgres_dsn) as conn:
        sealed = conn.execute("SELECT count(*) FROM audit_checkpoints WHERE timestamp_ms >= %s",
                              (started_ms,)).fetchone()[0]
        roots = dict(conn.execute("SELECT tree_size, root_hash FROM audit_checkpoints").fetchall())
    assert sealed > len(anchors) >= 2
    contract = _contract(platform)
    w3 = web3_for(settings.eth_rpc, 5)
    for anchor in anchors:
        on_chain = contract.anchor_at(anchor["anchor_index"])
        assert on_chain.tree_size == anchor["tree_size"]
        assert on_chain.root_hash.hex() == anchor["root_hash"] == bytes(roots[anchor["tree_size"]]).hex()
        receipt = w3.eth.get_transaction_receipt(anchor["tx_hash"])
        assert receipt["blockNumber"] == anchor["block_number"] and receipt["status"] == 1
        assert w3.eth.block_number >= anchor["block_number"] + settings.anchor_confirmations - 1
    listing = api.get("/api/v1/audit/anchors").json()
    assert listing["chain_id"] == 31337
    assert listing["rpc_url"] == f"http://127.0.0.1:{settings.chain_port}"
    assert listing["contract_address"] == contract.address


def _log_tail(path, start: int) -> str:  # noqa: ANN001
    with open(path, "rb") as log:
        log.seek(start)
        return log.read().decode(errors="replace")


def test_while_the_chain_is_unreachable_checkpoints_queue_and_the_newest_is_anchored_on_return(platform, api):
    dsn = platform.settings.postgres_dsn
    chain = platform.stack.chain.proc
    anchor_log = platform.log_path("anchor")
    mark = anchor_log.stat().st_size
    resumed_ms = None
    os.killpg(chain.pid, signal.SIGSTOP)  # the node stops answering, as an unreachable RPC endpoint would
    try:
        logged(platform, unique("outage"), 2)
        queued = seal(api)
        wait_until(lambda: any(word in _log_tail(anchor_log, mark) for word in ("unavailable", "could not",
                                                                               "RPC error", "read failed")),
                   30, "the anchoring worker noticing the outage")
        logged(platform, unique("outage"), 2)
        newest = seal(api)
        assert newest["tree_size"] > queued["tree_size"]
    finally:
        os.killpg(chain.pid, signal.SIGCONT)
        resumed_ms = int(time.time() * 1000)
    anchored = wait_anchored(api, newest["tree_size"], 60)
    assert anchored["tree_size"] == newest["tree_size"] and anchored["root_hash"] == newest["root_hash"]
    # Whatever queued during the outage, at most the transaction in flight when it began and the newest
    # checkpoint were sent once the chain returned.
    with psycopg.connect(dsn) as conn:
        after = conn.execute("SELECT count(*) FROM audit_anchors WHERE confirmed_at >= %s", (resumed_ms,)).fetchone()
    assert after[0] <= 2
