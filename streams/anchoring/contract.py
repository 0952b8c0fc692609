"""web3.py adapter for the AuditAnchor contract (``contracts/AuditAnchor.sol``).

Loads the committed artifact ``contracts/build/AuditAnchor.json``, deploys or
attaches to the contract, signs transactions locally with an ``eth_account``
key, and turns the contract's custom-error reverts into the exceptions of
``streams.anchoring.exceptions``. Errors that are not reverts (connection,
funds, nonce) propagate unchanged from web3.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import abi as eth_abi
from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_utils import abi_to_signature, function_signature_to_4byte_selector
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import TxReceipt

from streams.anchoring.exceptions import (
    CONTRACT_ERRORS,
    AnchoringError,
    AnchorRevertedError,
    ArtifactError,
    InvalidAnchorError,
    UnknownRevertError,
)

try:
    from eth_tester.exceptions import TransactionFailed as _EthTesterFailed
except ImportError:  # eth-tester is a test-only dependency

    class _EthTesterFailed(Exception):  # type: ignore[no-redef]
        """Stands in so the ``except`` clauses below stay valid without eth-tester."""


REVERT_ERRORS: tuple[type[Exception], ...] = (ContractLogicError, Web3RPCError, _EthTesterFailed)
"""What web3 raises when a call or transaction reverts, on a JSON-RPC node or on eth-tester."""

ARTIFACT_PATH = Path(__file__).resolve().parents[2] / "contracts" / "build" / "AuditAnchor.json"
"""The committed compile output; ``node contracts/compile.js --check`` proves it matches the source."""

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1  # uint64 in the contract
DEFAULT_RECEIPT_TIMEOUT = 120.0  # seconds


@dataclass(frozen=True)
class Artifact:
    """What ``contracts/compile.js`` wrote: the ABI, the bytecode and how they were made."""

    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    evm_version: str
    source_sha256: str


@dataclass(frozen=True)
class Anchor:
    """One anchored checkpoint, as the contract stores it."""

    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes  # SHA-256 of the signed checkpoint note
    timestamp: int  # block timestamp, seconds since the epoch
    submitter: str  # checksummed address


@dataclass(frozen=True)
class AnchoredEvent:
    """One ``Anchored`` event with where it was mined."""

    index: int
    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes
    submitter: str
    transaction_hash: str
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class AnchorReceipt:
    """Where an ``anchor`` transaction put the checkpoint."""

    index: int
    tree_size: int
    transaction_hash: str
    block_number: int
    gas_used: int


def load_artifact(path: Path = ARTIFACT_PATH) -> Artifact:
    """Read a compile.js artifact; raises ``ArtifactError`` if it is missing or incomplete."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Artifact(
            abi=raw["abi"],
            bytecode=raw["bytecode"],
            deployed_bytecode=raw["deployedBytecode"],
            compiler_version=raw["compiler"]["version"],
            evm_version=raw["compiler"]["evmVersion"],
            source_sha256=raw["sourceSha256"],
        )
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: run `node contracts/compile.js`") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path} is not a compile.js artifact: {exc!r}") from None


class AuditAnchorContract:
    """One deployed AuditAnchor, used as ``account`` (which signs every transaction)."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        account: LocalAccount | None = None,
        *,
        artifact: Artifact | None = None,
        receipt_timeout: float = DEFAULT_RECEIPT_TIMEOUT,
    ) -> None:
        """Attach without checks; prefer ``deploy`` or ``at``. ``account`` may be None for read-only use."""
        self._w3 = w3
        self._artifact = artifact or load_artifact()
        self._contract: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=self._artifact.abi
        )
        self._account = account
        self._receipt_timeout = receipt_timeout
        self._errors = RevertDecoder(self._artifact.abi)

    @classmethod
    def deploy(
        cls, w3: Web3, account: LocalAccount, *, artifact: Artifact | None = None
    ) -> AuditAnchorContract:
        """Deploy a new contract; ``account`` becomes its owner and first anchorer."""
        artifact = artifact or load_artifact()
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = _send(w3, account, factory.constructor(), RevertDecoder(artifact.abi))
        return cls(w3, receipt["contractAddress"], account, artifact=artifact)

    @classmethod
    def at(
        cls,
        w3: Web3,
        address: str,
        account: LocalAccount | None = None,
        *,
        artifact: Artifact | None = None,
    ) -> AuditAnchorContract:
        """Attach to a deployed contract; raises ``ArtifactError`` if ``address`` holds no code."""
        if not w3.eth.get_code(Web3.to_checksum_address(address)):
            raise ArtifactError(f"no contract code at {address}")
        return cls(w3, address, account, artifact=artifact)

    @property
    def address(self) -> str:
        return str(self._contract.address)

    # --- transactions -----------------------------------------------------------

    def anchor(self, tree_size: int, root_hash: bytes, checkpoint_hash: bytes) -> AnchorReceipt:
        """Append a checkpoint; it must be larger than the latest anchored tree size."""
        _check_tree_size(tree_size)
        _check_hash("root_hash", root_hash)
        _check_hash("checkpoint_hash", checkpoint_hash)
        fn = self._contract.functions.anchor(tree_size, root_hash, checkpoint_hash)
        receipt = self._transact(fn)
        (event,) = self._contract.events.Anchored().process_receipt(receipt)
        return AnchorReceipt(
            index=event["args"]["index"],
            tree_size=event["args"]["treeSize"],
            transaction_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
        )

    def anchor_call(self, tree_size: int, root_hash: bytes, checkpoint_hash: bytes) -> ContractFunction:
        """The unsent ``anchor`` call, for callers that manage nonce, gas and retries themselves."""
        _check_tree_size(tree_size)
        _check_hash("root_hash", root_hash)
        _check_hash("checkpoint_hash", checkpoint_hash)
        return self._contract.functions.anchor(tree_size, root_hash, checkpoint_hash)

    def anchored_in(self, receipt: TxReceipt) -> AnchorReceipt:
        """The anchor a successful ``anchor`` transaction appended, read from its ``Anchored`` event."""
        (event,) = self._contract.events.Anchored().process_receipt(receipt)
        return AnchorReceipt(
            index=event["args"]["index"],
            tree_size=event["args"]["treeSize"],
            transaction_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
        )

    def anchored_events(self, from_block: int = 0) -> list[AnchoredEvent]:
        """Every ``Anchored`` event from ``from_block`` on, oldest first (to reconcile a read model)."""
        events = self._contract.events.Anchored().get_logs(from_block=from_block)
        return [AnchoredEvent(index=e["args"]["index"], tree_size=e["args"]["treeSize"],
                              root_hash=bytes(e["args"]["rootHash"]),
                              checkpoint_hash=bytes(e["args"]["checkpointHash"]),
                              submitter=str(e["args"]["submitter"]),
                              transaction_hash=e["transactionHash"].to_0x_hex(),
                              block_number=e["blockNumber"], block_hash=e["blockHash"].to_0x_hex())
                for e in events]

    def translate_error(self, exc: Exception) -> Exception:
        """The typed revert error for ``exc``, or ``exc`` itself when it is not a revert."""
        return self._errors.translate_or_reraise(exc)

    def add_anchorer(self, address: str) -> None:
        """Owner only: allow ``address`` to anchor (no-op if it already may)."""
        self._transact(self._contract.functions.addAnchorer(Web3.to_checksum_address(address)))

    def remove_anchorer(self, address: str) -> None:
        """Owner only: stop ``address`` from anchoring (no-op if it may not)."""
        self._transact(self._contract.functions.removeAnchorer(Web3.to_checksum_address(address)))

    # --- lookups ----------------------------------------------------------------

    def count(self) -> int:
        return int(self._call(self._contract.functions.anchorCount()))

    def anchor_at(self, index: int) -> Anchor:
        """Raises ``AnchorIndexOutOfRangeError`` past the end."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidAnchorError("index", index, "an int >= 0")
        return _anchor(self._call(self._contract.functions.anchorAt(index)))

    def latest(self) -> Anchor:
        """Raises ``NoAnchorsError`` before the first anchor."""
        return _anchor(self._call(self._contract.functions.latestAnchor()))

    def find_by_size(self, tree_size: int) -> int | None:
        """Index of the anchor of exactly ``tree_size``, or None."""
        _check_tree_size(tree_size)
        found, index = self._call(self._contract.functions.findBySize(tree_size))
        return int(index) if found else None

    def owner(self) -> str:
        return str(self._call(self._contract.functions.owner()))

    def is_anchorer(self, address: str) -> bool:
        return bool(self._call(self._contract.functions.isAnchorer(Web3.to_checksum_address(address))))

    # --- plumbing ---------------------------------------------------------------

    def _call(self, fn: ContractFunction) -> Any:
        try:
            return fn.call()
        except (ContractLogicError, Web3RPCError, _EthTesterFailed) as exc:
            raise self._errors.translate_or_reraise(exc) from None

    def _transact(self, fn: ContractFunction) -> TxReceipt:
        if self._account is None:
            raise AnchoringError("this AuditAnchorContract was attached without an account to sign with")
        return _send(self._w3, self._account, fn, self._errors, self._receipt_timeout)


def _send(
    w3: Web3,
    account: LocalAccount,
    fn: Any,
    errors: RevertDecoder,
    timeout: float = DEFAULT_RECEIPT_TIMEOUT,
) -> TxReceipt:
    """Build (estimating gas, which pre-flights the call), sign locally, send, wait for success."""
    sender = account.address
    try:
        # "pending" so that back-to-back sends from one account do not reuse a nonce.
        tx = fn.build_transaction({"from": sender, "nonce": w3.eth.get_transaction_count(sender, "pending")})
        signed = w3.eth.account.sign_transaction(tx, account.key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    except (ContractLogicError, Web3RPCError, _EthTesterFailed) as exc:
        raise errors.translate_or_reraise(exc) from None
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] == 1:
        return receipt
    # Mined but reverted: state changed between estimate and inclusion (e.g. another anchorer's
    # checkpoint landed first). Replaying the call on the block's resulting state usually names why.
    try:
        fn.call({"from": sender}, block_identifier=receipt["blockNumber"])
    except (ContractLogicError, Web3RPCError, _EthTesterFailed) as exc:
        raise errors.translate_or_reraise(exc) from None
    raise UnknownRevertError(None, f"transaction {tx_hash.to_0x_hex()} reverted")


class RevertDecoder:
    """Maps revert data to the exception of the contract's matching custom error."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        for element in abi:
            if element.get("type") == "error":
                selector = function_signature_to_4byte_selector(abi_to_signature(element))
                types = [str(arg["type"]) for arg in element.get("inputs", [])]
                self._errors[selector] = (str(element["name"]), types)

    def decode(self, data: bytes | None) -> AnchorRevertedError:
        """The exception for ``data`` (selector + ABI-encoded arguments)."""
        if data is None or data[:4] not in self._errors:
            return UnknownRevertError(data)
        name, types = self._errors[data[:4]]
        try:
            args = eth_abi.decode(types, data[4:])
        except DecodingError as exc:
            return UnknownRevertError(data, f"bad {name} arguments: {exc}")
        error_type = CONTRACT_ERRORS.get(name)
        if error_type is None:
            return UnknownRevertError(data, f"custom error {name} has no exception class")
        return error_type(*(Web3.to_checksum_address(a) if t == "address" else a for t, a in zip(types, args)))

    def translate_or_reraise(self, exc: Exception) -> Exception:
        """The domain error for a revert, or ``exc`` itself when it is no revert (to re-raise as is)."""
        if isinstance(exc, ContractLogicError):
            data = _hex_data(exc.data)
            return self.decode(data) if data is not None else UnknownRevertError(None, str(exc.message))
        if isinstance(exc, Web3RPCError):
            # Hardhat executes eth_sendRawTransaction at once and reports a revert as an RPC error.
            error = (exc.rpc_response or {}).get("error")
            data = _hex_data(error.get("data")) if isinstance(error, Mapping) else None
            return self.decode(data) if data is not None else exc
        if isinstance(exc, _EthTesterFailed):
            data = _eth_tester_revert_data(exc)
            return self.decode(data) if data is not None else UnknownRevertError(None, str(exc))
        return exc


def _hex_data(data: object) -> bytes | None:
    """Revert bytes from a JSON-RPC error's ``data``: a hex string (geth) or ``{"data": hex}`` (hardhat)."""
    if isinstance(data, Mapping):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


def _eth_tester_revert_data(exc: Exception) -> bytes | None:
    """eth-tester's provider re-raises py-evm's revert as text: ``execution reverted: b'...'``."""
    message = str(exc.args[0]) if exc.args else ""
    literal = message.removeprefix("execution reverted: ")
    if not literal.startswith(("b'", 'b"')):
        return None  # an Error(string) reason it already decoded, or no data at all
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, bytes) else None


def _anchor(fields: tuple[Any, ...]) -> Anchor:
    tree_size, root_hash, checkpoint_hash, timestamp, submitter = fields
    return Anchor(int(tree_size), bytes(root_hash), bytes(checkpoint_hash), int(timestamp), str(submitter))


def _check_tree_size(tree_size: int) -> None:
    if isinstance(tree_size, bool) or not isinstance(tree_size, int) or not 0 <= tree_size <= MAX_TREE_SIZE:
        raise InvalidAnchorError("tree_size", tree_size, f"an int in [0, {MAX_TREE_SIZE}]")


def _check_hash(what: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        shown = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise InvalidAnchorError(what, shown, f"{HASH_SIZE} bytes")
