"""AuditAnchor.sol, run from its committed artifact on eth-tester (py-evm) through streams.anchoring."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3

from streams.anchoring.contract import (
    AnchorReceipt,
    AuditAnchorContract,
    RevertDecoder,
    load_artifact,
)
from streams.anchoring.exceptions import (
    AnchorIndexOutOfRangeError,
    ArtifactError,
    InvalidAnchorError,
    NoAnchorsError,
    NotAnchorerError,
    NotOwnerError,
    TreeSizeNotGrowingError,
    UnknownRevertError,
)

# Fixed keys so failures reproduce; funded from eth-tester's unlocked genesis account.
OWNER_KEY = "0x" + "11" * 32
ANCHORER_KEY = "0x" + "22" * 32
STRANGER_KEY = "0x" + "33" * 32


def root(n: int) -> bytes:
    return hashlib.sha256(b"root %d" % n).digest()


def note_hash(n: int) -> bytes:
    return hashlib.sha256(b"checkpoint note %d" % n).digest()


@pytest.fixture
def w3() -> Iterator[Web3]:
    w3 = Web3(EthereumTesterProvider())
    for key in (OWNER_KEY, ANCHORER_KEY, STRANGER_KEY):
        address = Account.from_key(key).address
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": address, "value": 10**18})
    yield w3


@pytest.fixture
def owner(w3: Web3) -> LocalAccount:
    return w3.eth.account.from_key(OWNER_KEY)


@pytest.fixture
def anchorer(w3: Web3) -> LocalAccount:
    return w3.eth.account.from_key(ANCHORER_KEY)


@pytest.fixture
def stranger(w3: Web3) -> LocalAccount:
    return w3.eth.account.from_key(STRANGER_KEY)


@pytest.fixture
def contract(w3: Web3, owner: LocalAccount) -> AuditAnchorContract:
    return AuditAnchorContract.deploy(w3, owner)


def as_(w3: Web3, contract: AuditAnchorContract, account: LocalAccount) -> AuditAnchorContract:
    """The same deployed contract, signed for by ``account``."""
    return AuditAnchorContract.at(w3, contract.address, account)


# --- deployment ------------------------------------------------------------------


def test_the_deployer_is_the_owner_and_the_first_anchorer(
    contract: AuditAnchorContract, owner: LocalAccount, stranger: LocalAccount
) -> None:
    assert contract.owner() == owner.address
    assert contract.is_anchorer(owner.address)
    assert not contract.is_anchorer(stranger.address)
    assert contract.count() == 0


def test_attaching_to_an_address_without_code_is_refused(w3: Web3, stranger: LocalAccount) -> None:
    with pytest.raises(ArtifactError, match="no contract code"):
        AuditAnchorContract.at(w3, stranger.address)


# --- anchoring ---------------------------------------------------------------------


def test_the_owner_anchors_a_checkpoint_with_its_block_time_and_submitter(
    w3: Web3, contract: AuditAnchorContract, owner: LocalAccount
) -> None:
    receipt = contract.anchor(5, root(5), note_hash(5))

    assert (receipt.index, receipt.tree_size) == (0, 5)
    anchor = contract.anchor_at(0)
    assert anchor.tree_size == 5
    assert anchor.root_hash == root(5)
    assert anchor.checkpoint_hash == note_hash(5)
    assert anchor.timestamp == w3.eth.get_block(receipt.block_number)["timestamp"]
    assert anchor.submitter == owner.address


def test_an_equal_tree_size_is_rejected_with_got_and_want(contract: AuditAnchorContract) -> None:
    contract.anchor(5, root(5), note_hash(5))

    with pytest.raises(TreeSizeNotGrowingError) as caught:
        contract.anchor(5, root(50), note_hash(50))

    assert (caught.value.got, caught.value.want_above) == (5, 5)
    assert contract.count() == 1


def test_a_smaller_tree_size_is_rejected_with_got_and_want(contract: AuditAnchorContract) -> None:
    contract.anchor(5, root(5), note_hash(5))

    with pytest.raises(TreeSizeNotGrowingError) as caught:
        contract.anchor(4, root(4), note_hash(4))

    assert (caught.value.got, caught.value.want_above) == (4, 5)


def test_the_first_anchor_needs_a_non_empty_tree(contract: AuditAnchorContract) -> None:
    with pytest.raises(TreeSizeNotGrowingError) as caught:
        contract.anchor(0, root(0), note_hash(0))

    assert (caught.value.got, caught.value.want_above) == (0, 0)


def test_the_largest_uint64_tree_size_is_accepted(contract: AuditAnchorContract) -> None:
    contract.anchor(2**64 - 1, root(1), note_hash(1))

    assert contract.latest().tree_size == 2**64 - 1
    with pytest.raises(TreeSizeNotGrowingError):
        contract.anchor(2**64 - 1, root(2), note_hash(2))


# --- who may anchor ----------------------------------------------------------------


def test_an_account_that_is_not_an_anchorer_is_rejected(
    w3: Web3, contract: AuditAnchorContract, stranger: LocalAccount
) -> None:
    with pytest.raises(NotAnchorerError) as caught:
        as_(w3, contract, stranger).anchor(1, root(1), note_hash(1))

    assert caught.value.caller == stranger.address
    assert contract.count() == 0


def test_an_added_anchorer_can_anchor_until_it_is_removed(
    w3: Web3, contract: AuditAnchorContract, anchorer: LocalAccount
) -> None:
    contract.add_anchorer(anchorer.address)
    second = as_(w3, contract, anchorer)

    second.anchor(3, root(3), note_hash(3))
    assert contract.latest().submitter == anchorer.address

    contract.remove_anchorer(anchorer.address)
    assert not contract.is_anchorer(anchorer.address)
    with pytest.raises(NotAnchorerError):
        second.anchor(4, root(4), note_hash(4))
    assert contract.count() == 1


def test_only_the_owner_changes_the_anchorer_set(
    w3: Web3, contract: AuditAnchorContract, anchorer: LocalAccount, stranger: LocalAccount
) -> None:
    contract.add_anchorer(anchorer.address)
    second = as_(w3, contract, anchorer)

    with pytest.raises(NotOwnerError) as caught:
        second.add_anchorer(stranger.address)
    assert caught.value.caller == anchorer.address
    with pytest.raises(NotOwnerError):
        second.remove_anchorer(anchorer.address)
    assert contract.is_anchorer(anchorer.address)
    assert not contract.is_anchorer(stranger.address)


def test_the_owner_can_revoke_its_own_anchoring_right_and_restore_it(
    contract: AuditAnchorContract, owner: LocalAccount
) -> None:
    contract.remove_anchorer(owner.address)
    with pytest.raises(NotAnchorerError):
        contract.anchor(1, root(1), note_hash(1))

    contract.add_anchorer(owner.address)
    contract.anchor(1, root(1), note_hash(1))


def test_anchorer_events_are_emitted_only_on_a_change(
    w3: Web3, contract: AuditAnchorContract, anchorer: LocalAccount
) -> None:
    events = w3.eth.contract(address=contract.address, abi=load_artifact().abi).events

    contract.add_anchorer(anchorer.address)
    contract.add_anchorer(anchorer.address)
    contract.remove_anchorer(anchorer.address)
    contract.remove_anchorer(anchorer.address)

    added = events.AnchorerAdded().get_logs(from_block=0)
    removed = events.AnchorerRemoved().get_logs(from_block=0)
    owner_address = contract.owner()  # the constructor adds the deployer
    assert [e["args"]["account"] for e in added] == [owner_address, anchorer.address]
    assert [e["args"]["account"] for e in removed] == [anchorer.address]


# --- events ------------------------------------------------------------------------


def test_each_anchor_emits_an_event_with_its_fields_and_indexed_index_and_size(
    w3: Web3, contract: AuditAnchorContract, owner: LocalAccount
) -> None:
    receipts: list[AnchorReceipt] = [contract.anchor(n, root(n), note_hash(n)) for n in (2, 7)]

    anchored = w3.eth.contract(address=contract.address, abi=load_artifact().abi).events.Anchored()
    for index, (size, receipt) in enumerate(zip((2, 7), receipts)):
        tx_receipt = w3.eth.get_transaction_receipt(receipt.transaction_hash)
        (event,) = anchored.process_receipt(tx_receipt)
        assert dict(event["args"]) == {
            "index": index,
            "treeSize": size,
            "rootHash": root(size),
            "checkpointHash": note_hash(size),
            "submitter": owner.address,
        }
        # Indexed, so watchers can filter by position or size without decoding data.
        topics = tx_receipt["logs"][0]["topics"]
        assert int.from_bytes(topics[1], "big") == index
        assert int.from_bytes(topics[2], "big") == size
    filtered = anchored.get_logs(from_block=0, argument_filters={"treeSize": 7})
    assert [e["args"]["index"] for e in filtered] == [1]


# --- lookups -----------------------------------------------------------------------


def test_anchors_are_looked_up_by_index_and_latest(contract: AuditAnchorContract) -> None:
    for n in (1, 4, 9):
        contract.anchor(n, root(n), note_hash(n))

    assert contract.count() == 3
    assert [contract.anchor_at(i).tree_size for i in range(3)] == [1, 4, 9]
    assert contract.latest() == contract.anchor_at(2)
    assert contract.latest().root_hash == root(9)


def test_anchor_at_past_the_end_reverts_with_index_out_of_range(contract: AuditAnchorContract) -> None:
    contract.anchor(1, root(1), note_hash(1))

    with pytest.raises(AnchorIndexOutOfRangeError) as caught:
        contract.anchor_at(1)

    assert (caught.value.got, caught.value.count) == (1, 1)


def test_latest_on_an_empty_contract_reverts_with_no_anchors(contract: AuditAnchorContract) -> None:
    with pytest.raises(NoAnchorsError):
        contract.latest()


def test_find_by_size_returns_the_index_of_exact_sizes_only(contract: AuditAnchorContract) -> None:
    assert contract.find_by_size(1) is None
    sizes = (1, 2, 5, 8, 13, 21, 34)
    for n in sizes:
        contract.anchor(n, root(n), note_hash(n))

    assert [contract.find_by_size(n) for n in sizes] == list(range(len(sizes)))
    assert [contract.find_by_size(n) for n in (0, 3, 9, 35, 2**64 - 1)] == [None] * 5


# --- client-side checks and revert decoding ------------------------------------------


@pytest.mark.parametrize(
    ("tree_size", "root_hash", "checkpoint_hash", "what"),
    [
        (-1, root(1), note_hash(1), "tree_size"),
        (2**64, root(1), note_hash(1), "tree_size"),
        (True, root(1), note_hash(1), "tree_size"),
        (1, root(1)[:31], note_hash(1), "root_hash"),
        (1, root(1), note_hash(1) + b"\0", "checkpoint_hash"),
        (1, root(1).hex(), note_hash(1), "root_hash"),
    ],
    ids=["negative-size", "size-over-uint64", "bool-size", "short-root", "long-note-hash", "hex-root"],
)
def test_malformed_arguments_are_refused_before_any_transaction(
    contract: AuditAnchorContract, tree_size: object, root_hash: object, checkpoint_hash: object, what: str
) -> None:
    with pytest.raises(InvalidAnchorError) as caught:
        contract.anchor(tree_size, root_hash, checkpoint_hash)  # type: ignore[arg-type]

    assert caught.value.what == what
    assert contract.count() == 0


def test_revert_data_of_no_known_custom_error_is_reported_as_unknown() -> None:
    decoder = RevertDecoder(load_artifact().abi)
    panic = bytes.fromhex("4e487b71") + (0x32).to_bytes(32, "big")

    error = decoder.decode(panic)

    assert isinstance(error, UnknownRevertError)
    assert error.data == panic


def test_truncated_custom_error_arguments_are_reported_as_unknown() -> None:
    decoder = RevertDecoder(load_artifact().abi)
    selector = Web3.keccak(text="TreeSizeNotGrowing(uint64,uint64)")[:4]

    error = decoder.decode(selector + b"\0" * 10)

    assert isinstance(error, UnknownRevertError)
    assert "TreeSizeNotGrowing" in str(error)
