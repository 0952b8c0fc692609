"""Which decision records reach the learner: only those whose ``kind`` header says outcome."""

from __future__ import annotations

from streams.governance.outcome_feed import is_outcome


def test_only_outcome_headers_are_outcomes():
    assert is_outcome([("correlation_id", b"c"), ("kind", b"outcome")])
    assert not is_outcome([("kind", b"routed")])
    assert not is_outcome([("kinds", b"outcome")])
    assert not is_outcome([])
    assert not is_outcome(None)
