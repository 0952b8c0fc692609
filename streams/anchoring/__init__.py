"""Anchoring audit-log checkpoints on an EVM chain (the AuditAnchor contract)."""
