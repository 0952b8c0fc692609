// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title AuditAnchor
/// @notice Append-only record of ACGS-2 audit-log checkpoints. Each anchor commits to one signed checkpoint
///         of the RFC 6962 audit log: its tree size, its root hash, and the SHA-256 of the signed note.
/// @dev Guarantees: anchors are never changed or removed; tree sizes strictly increase with the index;
///      only accounts in the anchorer set can append; only the deploying owner can change that set.
contract AuditAnchor {
    /// @dev Field order packs into 4 slots: treeSize | rootHash | checkpointHash | timestamp+submitter.
    struct Anchor {
        uint64 treeSize;
        bytes32 rootHash;
        bytes32 checkpointHash;
        uint64 timestamp;
        address submitter;
    }

    /// @notice The deployer. Immutable: checked without a storage read, and there is no transfer to get wrong.
    address public immutable owner;

    /// @notice Accounts allowed to append anchors.
    mapping(address account => bool) public isAnchorer;

    Anchor[] private _anchors;

    event Anchored(
        uint256 indexed index,
        uint64 indexed treeSize,
        bytes32 rootHash,
        bytes32 checkpointHash,
        address indexed submitter
    );
    event AnchorerAdded(address indexed account);
    event AnchorerRemoved(address indexed account);

    error NotOwner(address caller);
    error NotAnchorer(address caller);
    /// @dev `wantAbove` is the latest anchored size (0 when there is none): `got` must exceed it.
    error TreeSizeNotGrowing(uint64 got, uint64 wantAbove);
    error NoAnchors();
    error IndexOutOfRange(uint256 got, uint256 count);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor() {
        owner = msg.sender;
        _setAnchorer(msg.sender, true);
    }

    /// @notice Append a checkpoint. Reverts unless the caller is an anchorer and `treeSize` exceeds the
    ///         latest anchored size (so the first anchor needs `treeSize > 0`: an empty log has nothing to anchor).
    /// @return index Position of the new anchor, as emitted in `Anchored`.
    function anchor(uint64 treeSize, bytes32 rootHash, bytes32 checkpointHash) external returns (uint256 index) {
        if (!isAnchorer[msg.sender]) revert NotAnchorer(msg.sender);
        index = _anchors.length;
        // One SLOAD of the previous anchor's first slot; no separate "latest size" slot to keep in sync.
        uint64 latest = index == 0 ? 0 : _anchors[index - 1].treeSize;
        if (treeSize <= latest) revert TreeSizeNotGrowing(treeSize, latest);
        _anchors.push(Anchor(treeSize, rootHash, checkpointHash, uint64(block.timestamp), msg.sender));
        emit Anchored(index, treeSize, rootHash, checkpointHash, msg.sender);
    }

    function addAnchorer(address account) external onlyOwner {
        _setAnchorer(account, true);
    }

    function removeAnchorer(address account) external onlyOwner {
        _setAnchorer(account, false);
    }

    function anchorCount() external view returns (uint256) {
        return _anchors.length;
    }

    /// @notice The anchor at `index`; reverts with `IndexOutOfRange` past the end.
    function anchorAt(uint256 index) external view returns (Anchor memory) {
        uint256 count = _anchors.length;
        if (index >= count) revert IndexOutOfRange(index, count);
        return _anchors[index];
    }

    /// @notice The most recent anchor; reverts with `NoAnchors` before the first one.
    function latestAnchor() external view returns (Anchor memory) {
        uint256 count = _anchors.length;
        if (count == 0) revert NoAnchors();
        return _anchors[count - 1];
    }

    /// @notice Index of the anchor with exactly `treeSize`, if any.
    /// @dev Sizes strictly increase with the index, so a binary search is exact (O(log n) reads).
    function findBySize(uint64 treeSize) external view returns (bool found, uint256 index) {
        uint256 lo = 0;
        uint256 hi = _anchors.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            uint64 size = _anchors[mid].treeSize;
            if (size == treeSize) return (true, mid);
            if (size < treeSize) lo = mid + 1;
            else hi = mid;
        }
        return (false, 0);
    }

    /// @dev Emits only on a change, so the event stream replays exactly to the current set.
    function _setAnchorer(address account, bool allowed) private {
        if (isAnchorer[account] == allowed) return;
        isAnchorer[account] = allowed;
        if (allowed) emit AnchorerAdded(account);
        else emit AnchorerRemoved(account);
    }
}
