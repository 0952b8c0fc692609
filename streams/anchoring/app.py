"""Composition root of the anchoring worker (``acgs worker anchor``): settings in, a running AnchoringWorker.

The signing key comes from settings (``ETH_PRIVATE_KEY``; hardhat's public account #0 only for the local
chain) and is never logged; the account's address is.
"""

from __future__ import annotations

import logging
import signal
import threading

from eth_account import Account
from web3 import HTTPProvider, Web3

from acgs.settings import Settings
from schemas.codec import AvroCodec
from streams.anchoring.contract import AuditAnchorContract
from streams.anchoring.deployment import read_deployment
from streams.anchoring.exceptions import AnchoringError, ChainIdMismatchError
from streams.anchoring.pg_anchors import PostgresAnchorRecorder, PostgresCheckpointSource
from streams.anchoring.submitter import TRANSIENT, AnchorSubmitter, Backoff
from streams.anchoring.worker import AnchoringWorker
from streams.kafka_publisher import KafkaPublisher

log = logging.getLogger("acgs.anchoring")


def web3_for(rpc_url: str, timeout_s: float) -> Web3:
    # Our own retries (with backoff and a nonce-safe resend) replace web3's built-in request retries.
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None))


def contract_address(settings: Settings) -> str:
    """The configured contract, else the one the local stack deployed (``state_dir/chain``)."""
    if settings.anchor_contract_address:
        return settings.anchor_contract_address
    deployment = read_deployment(settings.state_dir)
    if deployment is None or deployment.chain_id != settings.eth_chain_id:
        raise AnchoringError("no AuditAnchor contract: set ANCHOR_CONTRACT_ADDRESS, or start the stack "
                             "(`acgs run`), which deploys one")
    return deployment.contract_address


def attach(settings: Settings, stop: threading.Event) -> tuple[Web3, AuditAnchorContract, Account]:
    """Connect to the chain (waiting while it is unreachable) and attach to the contract as our account."""
    key = settings.anchor_signing_key
    if key is None:
        raise AnchoringError("no anchoring key: set ETH_PRIVATE_KEY for an external chain")
    account = Account.from_key(key)
    w3 = web3_for(settings.eth_rpc, settings.anchor_rpc_timeout_s)
    for delay in Backoff(0.5, settings.anchor_retry_max_s).delays():
        try:
            chain_id = w3.eth.chain_id
            if chain_id != settings.eth_chain_id:
                raise ChainIdMismatchError(chain_id, settings.eth_chain_id)
            return w3, AuditAnchorContract.at(w3, contract_address(settings), account), account
        except TRANSIENT as exc:
            log.warning("chain %s unreachable (%s); retrying in %.1fs", settings.eth_rpc, type(exc).__name__, delay)
            if stop.wait(delay):
                raise SystemExit(0) from None
    raise AssertionError("unreachable")


def build_worker(settings: Settings, stop: threading.Event) -> AnchoringWorker:
    w3, contract, account = attach(settings, stop)
    backoff = Backoff(0.5, settings.anchor_retry_max_s)
    submitter = AnchorSubmitter(w3, contract, account, settings.eth_chain_id, settings.anchor_confirmations,
                                backoff)
    publisher = KafkaPublisher(settings.kafka_bootstrap, AvroCodec(), "acgs-anchoring")
    log.info("anchoring %s on chain %d, contract %s, from %s, at most once per %.1fs", settings.audit_origin,
             settings.eth_chain_id, contract.address, account.address, settings.anchor_interval_s)
    return AnchoringWorker(settings.audit_origin, settings.eth_chain_id,
                           PostgresCheckpointSource(settings.postgres_dsn, settings.audit_origin), contract,
                           submitter, PostgresAnchorRecorder(settings.postgres_dsn, publisher, settings.audit_origin),
                           settings.anchor_interval_s, backoff)


def run(settings: Settings) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = build_worker(settings, stop)
    threading.Thread(target=lambda: (stop.wait(), worker.stop()), daemon=True).start()
    worker.run()
