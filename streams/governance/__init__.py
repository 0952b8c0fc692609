"""Governance in the stream: impact scoring and deliberation routing of accepted commands (see ``stage``)."""
