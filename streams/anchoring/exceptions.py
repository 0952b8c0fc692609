"""Errors raised while anchoring audit-log checkpoints on chain.

The contract's custom errors each map to one class here (``CONTRACT_ERRORS``),
carrying the decoded arguments, so callers never parse revert data or web3
exception messages.
"""

from __future__ import annotations


class AnchoringError(Exception):
    """Base class of every error raised by ``streams.anchoring``."""


class ArtifactError(AnchoringError):
    """The compiled contract artifact is missing or unusable."""


class InvalidAnchorError(AnchoringError, ValueError):
    """An argument cannot be sent to the contract (checked before any RPC call)."""

    def __init__(self, what: str, got: object, want: str) -> None:
        super().__init__(f"{what} is {got!r}, want {want}")
        self.what = what
        self.got = got
        self.want = want


# --- Reverts: one class per custom error of AuditAnchor.sol ---------------------


class AnchorRevertedError(AnchoringError):
    """The contract reverted; subclasses name the custom error."""


class TreeSizeNotGrowingError(AnchorRevertedError):
    """``TreeSizeNotGrowing``: the tree size does not exceed the latest anchor's."""

    def __init__(self, got: int, want_above: int) -> None:
        super().__init__(f"tree size {got} does not grow: want > {want_above}")
        self.got = got
        self.want_above = want_above


class NotAnchorerError(AnchorRevertedError):
    """``NotAnchorer``: the sending account is not in the anchorer set."""

    def __init__(self, caller: str) -> None:
        super().__init__(f"account {caller} is not an anchorer")
        self.caller = caller


class NotOwnerError(AnchorRevertedError):
    """``NotOwner``: only the contract's owner may change the anchorer set."""

    def __init__(self, caller: str) -> None:
        super().__init__(f"account {caller} is not the owner")
        self.caller = caller


class NoAnchorsError(AnchorRevertedError):
    """``NoAnchors``: nothing has been anchored yet."""

    def __init__(self) -> None:
        super().__init__("no checkpoint has been anchored yet")


class AnchorIndexOutOfRangeError(AnchorRevertedError, IndexError):
    """``IndexOutOfRange``: there is no anchor at that index."""

    def __init__(self, got: int, count: int) -> None:
        super().__init__(f"anchor index {got} out of range for {count} anchors")
        self.got = got
        self.count = count


class UnknownRevertError(AnchorRevertedError):
    """The contract reverted with data that matches none of its custom errors."""

    def __init__(self, data: bytes | None, detail: str = "") -> None:
        shown = "no revert data" if data is None else f"revert data 0x{data.hex()}"
        super().__init__(f"reverted with {shown}{': ' + detail if detail else ''}")
        self.data = data


CONTRACT_ERRORS: dict[str, type[AnchorRevertedError]] = {
    "TreeSizeNotGrowing": TreeSizeNotGrowingError,
    "NotAnchorer": NotAnchorerError,
    "NotOwner": NotOwnerError,
    "NoAnchors": NoAnchorsError,
    "IndexOutOfRange": AnchorIndexOutOfRangeError,
}
"""Solidity custom error name -> exception, built with the error's decoded arguments in order."""


# --- Submitting from the anchoring worker -----------------------------------------


class ChainUnavailableError(AnchoringError):
    """The JSON-RPC endpoint did not answer after the retries; nothing was broadcast."""

    def __init__(self, action: str, cause: Exception) -> None:
        super().__init__(f"chain unreachable while trying to {action}: {type(cause).__name__}: {cause}")
        self.action = action
        self.cause = cause


class ChainIdMismatchError(AnchoringError):
    """The endpoint serves another chain than the configured one: refuse to sign for it."""

    def __init__(self, got: int, want: int) -> None:
        super().__init__(f"RPC endpoint serves chain id {got}, configured chain id is {want}")
        self.got = got
        self.want = want


class TransactionNotMinedError(AnchoringError):
    """A broadcast anchor transaction was dropped, replaced, or not mined in time."""

    def __init__(self, tx_hash: str, reason: str) -> None:
        super().__init__(f"transaction {tx_hash} not mined: {reason}")
        self.tx_hash = tx_hash
        self.reason = reason


class AnchorForkError(AnchoringError):
    """The chain's latest anchor is not a prefix of this log: anchoring stops rather than bless a fork."""

    def __init__(self, tree_size: int, detail: str) -> None:
        super().__init__(f"chain anchor at tree size {tree_size} does not match this log: {detail}")
        self.tree_size = tree_size
        self.detail = detail
