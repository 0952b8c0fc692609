"""HTTP answer schemas of the audit log (hashes as lowercase hex)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class LeafPublic(BaseModel):
    leaf_index: int
    leaf_hash: str
    source_topic: str
    partition: int
    offset: int
    event_id: str | None
    event_type: str
    tenant_id: str | None
    recorded_at: int


class LeafPage(BaseModel):
    leaves: list[LeafPublic]
    next: int | None  # pass as ``after`` for the next page; None when this page is the last one


class InclusionProofPublic(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]
    root_hash: str  # recomputed by the server: check the proof against a signed checkpoint's root instead


class ConsistencyProofPublic(BaseModel):
    first: int
    second: int
    hashes: list[str]
    first_root: str
    second_root: str


class CheckpointPublic(BaseModel):
    origin: str
    tree_size: int
    root_hash: str
    timestamp: int
    note: str
    checkpoint_hash: str
    previous_size: int | None
    consistency_proof: list[str]
    verifier_key: str | None


class AnchorPublic(BaseModel):
    tx_hash: str
    block_number: int
    block_hash: str
    chain_id: int
    contract_address: str
    anchor_index: int
    tree_size: int
    root_hash: str
    checkpoint_hash: str
    submitter: str
    anchored_at: int
    submitted_at: int | None
    confirmed_at: int


class AnchorsPublic(BaseModel):
    chain_id: int
    rpc_url: str | None
    contract_address: str | None
    anchors: list[AnchorPublic]


class VerifyRequest(BaseModel):
    """Exactly one of ``event_id`` and ``leaf_index``; or ``scope: "log"`` to check the whole stored log.

    ``tree_size`` pins the checkpoint to verify against (default: the newest anchored one covering the leaf,
    else the newest).
    """

    model_config = ConfigDict(extra="forbid")
    event_id: str | None = None
    leaf_index: int | None = None
    scope: str | None = None
    tree_size: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> VerifyRequest:
        given = sum(x is not None for x in (self.event_id, self.leaf_index, self.scope))
        if given != 1 or (self.scope is not None and self.scope != "log"):
            raise ValueError('give exactly one of event_id, leaf_index, or scope: "log"')
        if self.leaf_index is not None and self.leaf_index < 0:
            raise ValueError("leaf_index must be >= 0")
        if self.tree_size is not None and (self.tree_size < 1 or self.scope is not None):
            raise ValueError("tree_size must be >= 1, and only with event_id or leaf_index")
        return self


class StepPublic(BaseModel):
    name: str
    status: str
    detail: str
    got: str | None = None
    want: str | None = None


class VerificationPublic(BaseModel):
    verified: bool
    failed_step: str | None
    leaf_index: int | None = None
    event_id: str | None = None
    tree_size: int | None = None
    root_hash: str | None = None
    anchored: bool = False
    steps: list[StepPublic]
