"""Errors raised by the audit log core.

Every error carries the values it compared (got/want) so that a caller can log
or translate it at its boundary without parsing the message.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every error raised by ``streams.audit``."""


# --- Merkle proofs -----------------------------------------------------------


class ProofError(AuditError):
    """A proof, or the sizes and hashes it is checked against, is invalid."""


class IndexOutOfRangeError(ProofError, ValueError):
    """A leaf index is not below the tree size."""

    def __init__(self, index: int, size: int) -> None:
        super().__init__(f"leaf index {index} out of range for tree size {size}")
        self.index = index
        self.size = size


class TreeSizeError(ProofError, ValueError):
    """Tree sizes are out of order or beyond what the log holds."""

    def __init__(self, got: int, want: str) -> None:
        super().__init__(f"tree size {got}: want {want}")
        self.got = got
        self.want = want


class ProofLengthError(ProofError):
    """A proof has the wrong number of hashes for its sizes."""

    def __init__(self, got: int, want: int) -> None:
        super().__init__(f"proof has {got} hashes, want {want}")
        self.got = got
        self.want = want


class HashSizeError(ProofError, ValueError):
    """A hash is not a SHA-256 digest (32 bytes)."""

    def __init__(self, got: int, want: int, what: str = "hash") -> None:
        super().__init__(f"{what} is {got} bytes, want {want}")
        self.got = got
        self.want = want
        self.what = what


class RootMismatchError(ProofError):
    """The root computed from a proof differs from the expected root."""

    def __init__(self, got: bytes, want: bytes, what: str = "root") -> None:
        super().__init__(f"{what} mismatch: got {got.hex()}, want {want.hex()}")
        self.got = got
        self.want = want
        self.what = what


# --- Node storage ------------------------------------------------------------


class NodeStoreError(AuditError):
    """The node store does not hold what the tree requires."""


class MissingNodeError(NodeStoreError):
    """Nodes the tree needs are absent from the store."""

    def __init__(self, keys: list[tuple[int, int]]) -> None:
        shown = ", ".join(f"({level},{index})" for level, index in keys[:8])
        more = f" and {len(keys) - 8} more" if len(keys) > 8 else ""
        super().__init__(f"missing tree nodes {shown}{more}")
        self.keys = keys


class NodeConflictError(NodeStoreError):
    """A write would replace a stored node with a different hash.

    Nodes are write-once: rewriting the same hash is an idempotent replay, a
    different hash means two writers or a log forked from its store.
    """

    def __init__(self, key: tuple[int, int], got: bytes, want: bytes) -> None:
        super().__init__(
            f"node {key} already holds {want.hex()}, refusing {got.hex()}"
        )
        self.key = key
        self.got = got
        self.want = want


# --- Signed notes and checkpoints ---------------------------------------------


class NoteError(AuditError):
    """A signed note or checkpoint cannot be accepted."""


class MalformedNoteError(NoteError, ValueError):
    """The note text or one of its signature lines is not well formed."""


class UnknownKeyError(NoteError):
    """No signature on the note comes from the expected key."""

    def __init__(self, key_name: str, key_id: int) -> None:
        super().__init__(f"no signature by key {key_name}+{key_id:08x}")
        self.key_name = key_name
        self.key_id = key_id


class BadSignatureError(NoteError):
    """A signature by the expected key does not verify."""

    def __init__(self, key_name: str, key_id: int) -> None:
        super().__init__(f"invalid signature by key {key_name}+{key_id:08x}")
        self.key_name = key_name
        self.key_id = key_id


class MalformedCheckpointError(NoteError, ValueError):
    """The note body is not a checkpoint in the expected format."""


class OriginMismatchError(NoteError):
    """A checkpoint was issued by another log than the one expected."""

    def __init__(self, got: str, want: str) -> None:
        super().__init__(f"checkpoint origin {got!r}, want {want!r}")
        self.got = got
        self.want = want


class InvalidKeyError(NoteError, ValueError):
    """A key or key name cannot be used for signing or verifying."""


# --- The running log (stream processor and its database) --------------------------


class LogStateError(AuditError):
    """The stored log cannot be continued as configured."""


class LogOriginMismatchError(LogStateError):
    """The database holds the log of another origin than the one configured."""

    def __init__(self, got: str, want: str) -> None:
        super().__init__(f"the database holds the audit log {got!r}, configured origin is {want!r}")
        self.got = got
        self.want = want
