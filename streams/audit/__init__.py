"""Verifiable audit log: RFC 6962 Merkle tree and signed checkpoints."""
