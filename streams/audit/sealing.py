"""Sealing a checkpoint: sign the log's tree head, with the consistency proof from the previous checkpoint."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.audit.checkpoint import Checkpoint, sign_checkpoint
from streams.audit.exceptions import TreeSizeError
from streams.audit.merkle import MerkleLog
from streams.audit.records import CheckpointSealed


def seal(log: MerkleLog, origin: str, key: Ed25519PrivateKey, previous: CheckpointSealed | None,
         timestamp_ms: int) -> CheckpointSealed:
    """Return the signed checkpoint of ``log`` at its current size; the key name is ``origin``.

    Precondition: the log grew since ``previous`` (checked: one checkpoint per size keeps a fork visible).
    """
    size = log.size
    floor = previous.tree_size if previous is not None else 0
    if size <= floor:
        raise TreeSizeError(size, f"> {floor}, the previous checkpoint's size")
    root = log.root()
    proof = tuple(log.consistency_proof(previous.tree_size, size)) if previous is not None else ()
    note = sign_checkpoint(Checkpoint(origin, size, root, timestamp_ms), origin, key)
    return CheckpointSealed(origin, size, root, timestamp_ms, note,
                            previous.tree_size if previous is not None else None, proof)
