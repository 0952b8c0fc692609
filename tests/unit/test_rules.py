"""Constitutional and tenant rules shared by the gateway and the stream gate."""

from __future__ import annotations

import pytest

from commands import rules

HASH = "cdd01ef066bc6cf2"


def test_the_hash_in_force_passes_and_anything_else_is_a_mismatch():
    assert rules.check_constitutional_hash(HASH, HASH) is None
    for presented in (None, "", "cdd01ef066bc6cf3", HASH.upper(), HASH + "0", "ünïcode"):
        violation = rules.check_constitutional_hash(presented, HASH)
        assert violation is not None and violation.code == "constitutional_hash_mismatch"
        assert HASH not in violation.reason


@pytest.mark.parametrize(("raw", "ok"), [
    ("acme", True), ("  ACME-corp_1 ", True), ("ab", False), ("a" * 64, True), ("a" * 65, False),
    ("has space", False), ("dots.not.allowed", False), ("", False),
])
def test_tenant_ids_are_trimmed_lowercased_then_matched(raw, ok):
    assert (rules.check_tenant_id(raw) is None) is ok


def test_sender_recipient_and_tenant_must_agree():
    assert rules.check_tenancy("t1", None, None) is None
    assert rules.check_tenancy("t1", "t1", "t1") is None
    assert rules.check_tenancy("t1", "t2", None).code == "tenant_mismatch"
    assert rules.check_tenancy("t1", None, "t2").code == "tenant_mismatch"


def _record(**overrides):
    base = {"from_agent": "a", "to_agent": "b", "message_type": "command", "priority": "normal",
            "content": "x", "tenant_id": "acme"}
    return {**base, **overrides}


@pytest.mark.parametrize(("overrides", "code"), [
    ({"message_type": "gossip"}, "invalid_message_type"),
    ({"priority": "urgent"}, "invalid_priority"),
    ({"from_agent": ""}, "invalid_agent_id"),
    ({"to_agent": "sp ace"}, "invalid_agent_id"),
    ({"content": "x" * 11}, "content_too_large"),
    ({"tenant_id": "NO WAY"}, "invalid_tenant_id"),
])
def test_record_field_rules_name_the_broken_field(overrides, code):
    assert rules.check_message_fields(_record(**overrides), max_content_bytes=10).code == code


def test_medium_is_accepted_as_an_alias_of_normal():
    assert rules.check_message_fields(_record(priority="medium"), max_content_bytes=10) is None
