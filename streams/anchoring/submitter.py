"""Sending one anchor transaction for real: nonce, gas, EIP-155 signing, retries with backoff, confirmations.

Steps of ``AnchorSubmitter.submit``:
  1. estimate gas (this pre-flights the call: a revert raises its typed error and is never retried);
  2. take the nonce: the larger of our own next nonce and the node's pending count;
  3. build and sign locally (chain id in the signature); the key never leaves this process;
  4. broadcast, retrying transient RPC errors with the same signed bytes (same hash, so a retry cannot
     create a second transaction);
  5. wait for the receipt, re-broadcasting now and then; give up if the nonce was consumed by another tx;
  6. wait until the block has the configured confirmations, then check the receipt is still canonical.
Transient errors before step 4 raise ChainUnavailableError after a few attempts: the caller then tries again
later with whatever checkpoint is newest by then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ProviderConnectionError, TimeExhausted, TransactionNotFound, Web3RPCError

from streams.anchoring.contract import REVERT_ERRORS, AuditAnchorContract
from streams.anchoring.exceptions import ChainUnavailableError, TransactionNotMinedError, UnknownRevertError

log = logging.getLogger("acgs.anchoring")
T = TypeVar("T")

TRANSIENT: tuple[type[Exception], ...] = (requests.RequestException, OSError, ProviderConnectionError,
                                          TimeExhausted)
GAS_MARGIN = 1.2  # estimates are exact on a quiet chain; the margin covers state changing before inclusion
REBROADCAST_S = 10.0


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``initial_s``, doubling, capped at ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


@dataclass(frozen=True)
class ConfirmedAnchor:
    """An anchor transaction that reached its confirmations."""

    index: int
    tree_size: int
    tx_hash: str
    block_number: int
    block_hash: str
    block_timestamp_ms: int
    gas_used: int
    submitter: str


class AnchorSubmitter:
    """Submits anchors from one account. ``last_broadcast_at`` (monotonic) is when a tx last left us."""

    def __init__(self, w3: Web3, contract: AuditAnchorContract, account: LocalAccount, chain_id: int,
                 confirmations: int, backoff: Backoff, attempts: int = 4, receipt_timeout_s: float = 120.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._w3 = w3
        self._contract = contract
        self._account = account
        self._chain_id = chain_id
        self._confirmations = confirmations
        self._backoff = backoff
        self._attempts = attempts
        self._receipt_timeout_s = receipt_timeout_s
        self._sleep = sleep
        self._next_nonce = 0
        self.last_broadcast_at: float | None = None

    @property
    def address(self) -> str:
        return str(self._account.address)

    def submit(self, tree_size: int, root_hash: bytes, checkpoint_hash: bytes) -> ConfirmedAnchor:
        call = self._contract.anchor_call(tree_size, root_hash, checkpoint_hash)
        sender = self.address
        gas = self._retrying("estimate gas", lambda: self._reverts(lambda: call.estimate_gas({"from": sender})))
        nonce = self._retrying("read the nonce", lambda: max(
            self._next_nonce, self._w3.eth.get_transaction_count(sender, "pending")))
        tx = self._retrying("build the transaction", lambda: call.build_transaction(
            {"from": sender, "nonce": nonce, "gas": int(gas * GAS_MARGIN), "chainId": self._chain_id}))
        signed = self._account.sign_transaction(tx)
        self._broadcast(signed.raw_transaction, signed.hash)
        self._next_nonce = nonce + 1
        receipt = self._confirmed_receipt(signed.raw_transaction, signed.hash, nonce)
        if receipt["status"] != 1:
            raise self._revert_reason(call, receipt)
        anchor = self._contract.anchored_in(receipt)
        block = self._read(lambda: self._w3.eth.get_block(receipt["blockNumber"]))
        return ConfirmedAnchor(anchor.index, anchor.tree_size, anchor.transaction_hash, anchor.block_number,
                               receipt["blockHash"].to_0x_hex(), int(block["timestamp"]) * 1000, anchor.gas_used,
                               sender)

    def block_timestamp_ms(self, number: int) -> int:
        return int(self._w3.eth.get_block(number)["timestamp"]) * 1000

    # --- steps ------------------------------------------------------------------------------------------

    def _broadcast(self, raw: bytes, tx_hash: HexBytes) -> None:
        def send() -> None:
            self.last_broadcast_at = time.monotonic()
            try:
                self._w3.eth.send_raw_transaction(raw)
            except Web3RPCError as exc:
                # A retry after a lost answer: the node already has (or mined) these exact bytes.
                if not _already_known(exc) and self._receipt(tx_hash) is None:
                    raise self._contract.translate_error(exc) from None

        self._retrying("broadcast the transaction", send)
        log.info("anchor transaction %s broadcast", tx_hash.to_0x_hex())

    def _confirmed_receipt(self, raw: bytes, tx_hash: HexBytes, nonce: int) -> Any:
        while True:
            receipt = self._mined_receipt(raw, tx_hash, nonce)
            target = receipt["blockNumber"] + self._confirmations - 1
            while self._read(lambda: self._w3.eth.block_number) < target:
                self._sleep(0.2)
            again = self._read(lambda: self._receipt(tx_hash))
            if again is not None and again["blockHash"] == receipt["blockHash"]:
                return again
            log.warning("anchor transaction %s left block %d (reorg); waiting again", tx_hash.to_0x_hex(),
                        receipt["blockNumber"])

    def _mined_receipt(self, raw: bytes, tx_hash: HexBytes, nonce: int) -> Any:
        deadline = time.monotonic() + self._receipt_timeout_s
        rebroadcast_at = time.monotonic() + REBROADCAST_S
        while time.monotonic() < deadline:
            try:
                receipt = self._receipt(tx_hash)
                if receipt is not None:
                    return receipt
                if self._w3.eth.get_transaction_count(self.address, "latest") > nonce:
                    receipt = self._receipt(tx_hash)  # mined between the two reads?
                    if receipt is not None:
                        return receipt
                    self._next_nonce = 0  # resynchronise from the node next time
                    raise TransactionNotMinedError(tx_hash.to_0x_hex(), f"nonce {nonce} was used by another tx")
                if time.monotonic() >= rebroadcast_at:
                    rebroadcast_at = time.monotonic() + REBROADCAST_S
                    self._broadcast(raw, tx_hash)
            except TRANSIENT as exc:
                log.warning("waiting for %s: RPC error %s", tx_hash.to_0x_hex(), exc)
            self._sleep(0.2)
        raise TransactionNotMinedError(tx_hash.to_0x_hex(), f"no receipt after {self._receipt_timeout_s:.0f}s")

    def _receipt(self, tx_hash: HexBytes) -> Any:
        try:
            return self._w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    def _revert_reason(self, call: Any, receipt: Any) -> Exception:
        # Mined but reverted: replaying the call on that block's state names the custom error.
        try:
            call.call({"from": self.address}, block_identifier=receipt["blockNumber"])
        except REVERT_ERRORS as exc:
            return self._contract.translate_error(exc)
        return UnknownRevertError(None, f"transaction {receipt['transactionHash'].to_0x_hex()} reverted")

    # --- retries ----------------------------------------------------------------------------------------

    def _reverts(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except REVERT_ERRORS as exc:
            raise self._contract.translate_error(exc) from None

    def _retrying(self, what: str, action: Callable[[], T]) -> T:
        """Run ``action``; on transient RPC errors back off and retry, then raise ChainUnavailableError."""
        delays = self._backoff.delays()
        for attempt in range(1, self._attempts + 1):
            try:
                return action()
            except TRANSIENT as exc:
                if attempt == self._attempts:
                    raise ChainUnavailableError(what, exc) from None
                delay = next(delays)
                log.warning("could not %s (%s); retry %d/%d in %.1fs", what, type(exc).__name__, attempt,
                            self._attempts - 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _read(self, action: Callable[[], T]) -> T:
        """A read once the tx is out: retried with backoff for as long as it takes."""
        for delay in self._backoff.delays():
            try:
                return action()
            except TRANSIENT as exc:
                log.warning("chain read failed (%s); retrying in %.1fs", type(exc).__name__, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")


def _already_known(exc: Web3RPCError) -> bool:
    message = str(exc).lower()
    return "already known" in message or "known transaction" in message or "already imported" in message
