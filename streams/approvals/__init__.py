"""The approvals writer: the single writer of the approval request aggregates of its partitions."""
