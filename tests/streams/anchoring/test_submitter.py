"""AnchorSubmitter on eth-tester: a confirmed anchor, typed reverts never retried, RPC errors backed off."""

from __future__ import annotations

import hashlib

import pytest
import requests
from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from streams.anchoring.contract import AuditAnchorContract
from streams.anchoring.exceptions import ChainUnavailableError, TreeSizeNotGrowingError
from streams.anchoring.submitter import AnchorSubmitter, Backoff

KEY = "0x" + "44" * 32


@pytest.fixture
def chain():  # noqa: ANN201
    w3 = Web3(EthereumTesterProvider())
    account = Account.from_key(KEY)
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10**18})
    contract = AuditAnchorContract.deploy(w3, account)
    delays: list[float] = []
    submitter = AnchorSubmitter(w3, contract, account, w3.eth.chain_id, 1, Backoff(0.5, 2.0), attempts=3,
                                sleep=delays.append)
    return w3, contract, submitter, delays


def digest(n: int) -> bytes:
    return hashlib.sha256(b"%d" % n).digest()


def test_an_anchor_is_mined_and_reported_with_its_transaction_and_block(chain):
    w3, contract, submitter, _ = chain
    first = submitter.submit(5, digest(5), digest(50))
    second = submitter.submit(9, digest(9), digest(90))
    assert (first.index, first.tree_size, second.index, second.tree_size) == (0, 5, 1, 9)
    receipt = w3.eth.get_transaction_receipt(second.tx_hash)
    assert receipt["blockNumber"] == second.block_number and receipt["blockHash"].to_0x_hex() == second.block_hash
    assert contract.latest().root_hash == digest(9)
    assert w3.eth.get_transaction(second.tx_hash)["nonce"] == w3.eth.get_transaction(first.tx_hash)["nonce"] + 1
    assert submitter.last_broadcast_at is not None


def test_a_revert_raises_its_typed_error_without_a_retry_or_a_broadcast(chain):
    _, _, submitter, delays = chain
    submitter.submit(5, digest(5), digest(50))
    sent = submitter.last_broadcast_at
    with pytest.raises(TreeSizeNotGrowingError) as error:
        submitter.submit(5, digest(6), digest(60))
    assert (error.value.got, error.value.want_above) == (5, 5)
    assert delays == [] and submitter.last_broadcast_at == sent


def _flaky(w3: Web3, failures: int) -> None:
    """Make the first ``failures`` gas estimates fail as an unreachable endpoint does."""
    real = w3.eth.estimate_gas
    left = [failures]

    def estimate_gas(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if left[0] > 0:
            left[0] -= 1
            raise requests.ConnectionError("connection refused")
        return real(*args, **kwargs)

    w3.eth.estimate_gas = estimate_gas


def test_rpc_errors_are_retried_with_backoff(chain):
    w3, contract, submitter, delays = chain
    _flaky(w3, 2)
    assert submitter.submit(5, digest(5), digest(50)).tree_size == 5
    assert delays[:2] == [0.5, 1.0]


def test_an_unreachable_chain_gives_up_before_broadcasting(chain):
    w3, contract, submitter, delays = chain
    _flaky(w3, 10)
    with pytest.raises(ChainUnavailableError, match="estimate gas"):
        submitter.submit(5, digest(5), digest(50))
    assert delays == [0.5, 1.0] and submitter.last_broadcast_at is None
    assert contract.count() == 0
