"""What the anchoring worker records: a checkpoint anchored on chain, and its wire form on ``audit.anchors``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CheckpointAnchored:
    """The checkpoint of ``tree_size`` sits at ``anchor_index`` of the contract, mined in ``block_number``."""

    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes
    chain_id: int
    contract_address: str
    anchor_index: int
    tx_hash: str
    block_number: int
    block_hash: str
    submitter: str
    anchored_at: int  # block timestamp, ms
    submitted_at: int | None  # when we broadcast it, ms; None when found on chain by reconciliation
    confirmed_at: int  # when it reached the configured confirmations (or was reconciled), ms


def anchor_to_wire(anchor: CheckpointAnchored) -> dict[str, Any]:
    return {"origin": anchor.origin, "tree_size": anchor.tree_size, "root_hash": anchor.root_hash.hex(),
            "checkpoint_hash": anchor.checkpoint_hash.hex(), "chain_id": anchor.chain_id,
            "contract_address": anchor.contract_address, "anchor_index": anchor.anchor_index,
            "tx_hash": anchor.tx_hash, "block_number": anchor.block_number, "block_hash": anchor.block_hash,
            "submitter": anchor.submitter, "anchored_at": anchor.anchored_at}
