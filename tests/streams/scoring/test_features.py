"""Feature extraction: keywords, tool permission, volume, amounts, priority, type, tenant."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from streams.scoring.features import (
    COMPONENTS,
    TENANT_BUCKETS,
    ScoringInput,
    SenderVolume,
    content_keywords,
    extract_features,
    max_amount,
    message_type_risk,
    priority_level,
    tenant_feature,
    tool_permission,
)


def action(content: str = "hello", **overrides: object) -> ScoringInput:
    fields: dict[str, object] = {
        "tenant_id": "acme",
        "from_agent": "agent-1",
        "message_type": "command",
        "priority": "normal",
        "content": content,
    }
    fields.update(overrides)
    return ScoringInput(**fields)  # type: ignore[arg-type]


def test_keywords_match_whole_words_case_insensitively() -> None:
    assert content_keywords("URGENT: Transfer the funds") == {"kw_transfer"}
    assert content_keywords("transferred; then DELETED the password.") == {
        "kw_transfer",
        "kw_delete",
        "kw_password",
    }


def test_keywords_inside_other_words_do_not_match() -> None:
    assert content_keywords("the transferable deletedness of passwordless") == set()
    assert content_keywords("securityguard exploitative") == set()


def test_full_width_letters_and_zero_width_spaces_do_not_hide_a_keyword() -> None:
    assert content_keywords("ｔｒａｎｓｆｅｒ now") == {"kw_transfer"}  # noqa: RUF001
    assert content_keywords("trans\u200bfer now, shut\u200ddown") == {"kw_transfer", "kw_shutdown"}


def test_tool_permission_ranks_the_riskiest_verb_in_the_name() -> None:
    assert tool_permission(None) == 0.1
    assert tool_permission("shell.execute") == 0.9
    assert tool_permission("db.deleteRows") == 0.9
    assert tool_permission("payments.transfer") == 0.9
    assert tool_permission("fs_write_file") == 0.9
    assert tool_permission("crm.update_contact") == 0.5
    assert tool_permission("docs.read") == 0.2
    assert tool_permission("listBuckets") == 0.2
    assert tool_permission("read_then_delete") == 0.9
    assert tool_permission("frobnicate") == 0.5


def test_volume_counts_earlier_events_in_the_window_only() -> None:
    volume = SenderVolume(window_seconds=10.0)
    assert [volume.observe("a", t) for t in (0.0, 1.0, 2.0)] == [0, 1, 2]
    assert volume.observe("b", 2.0) == 0
    assert volume.observe("a", 11.5) == 1  # 0.0 and 1.0 fell out; 2.0 is still in


def test_volume_forgets_the_least_recently_seen_sender_beyond_its_bound() -> None:
    volume = SenderVolume(max_senders=2)
    volume.observe("a", 0.0)
    volume.observe("b", 0.0)
    volume.observe("a", 0.1)
    volume.observe("c", 0.2)
    assert len(volume) == 2
    assert volume.observe("a", 0.3) == 2  # a was seen more recently than b: kept
    assert volume.observe("b", 0.4) == 0  # b was evicted when c arrived


def test_volume_tiers_follow_the_old_scorer() -> None:
    volume = SenderVolume(window_seconds=1e9)
    tiers = [extract_features(action(), volume, now=float(i))["volume"] for i in range(151)]
    assert tiers[0] == tiers[19] == 0.1
    assert tiers[20] == tiers[49] == 0.2
    assert tiers[50] == tiers[149] == 0.5
    assert tiers[150] == 1.0


def test_max_amount_finds_the_largest_amount_like_value_anywhere() -> None:
    payload = {
        "amount": "1,500.00",
        "meta": {"fee": 20, "lines": [{"unit_price": 12_000}, {"total": -30_000}]},
        "count": 10**9,
        "approved": True,
        "value": "n/a",
    }
    assert max_amount(payload) == 30_000
    assert max_amount(None) == 0.0
    assert max_amount({"amount": True}) == 0.0
    assert max_amount({"amount": float("nan")}) == 0.0
    assert max_amount({"amount": "inf"}) > 1e9


def test_amount_over_1000_sets_the_context_flag() -> None:
    small = extract_features(action(payload={"amount": 1000}))
    large = extract_features(action(payload={"amount": 1000.01}))
    assert (small["amount_over_1000"], small["context"]) == (0.0, 0.2)
    assert (large["amount_over_1000"], large["context"]) == (1.0, 0.2 + 0.4)
    assert large["amount_log"] > small["amount_log"] > 0.0


def test_priority_and_message_type_map_to_the_old_levels() -> None:
    assert [priority_level(p) for p in ("low", "normal", "medium", "high", "critical")] == [
        0.2,
        0.5,
        0.5,
        0.7,
        1.0,
    ]
    assert priority_level(" CRITICAL ") == 1.0
    assert priority_level("whatever") == 0.5
    assert message_type_risk("governance_request") == 0.8
    assert message_type_risk("constitutional_validation") == 0.8
    assert message_type_risk("command") == 0.4
    assert message_type_risk("heartbeat") == 0.2


def test_only_critical_priority_sets_the_critical_flag() -> None:
    assert extract_features(action(priority="critical"))["priority_critical"] == 1.0
    assert extract_features(action(priority="high"))["priority_critical"] == 0.0


def test_tenant_feature_is_stable_and_normalised() -> None:
    # crc32(b"acme") % 1024, as computed by: python3 -c "import zlib; print(zlib.crc32(b'acme') % 1024)"
    assert tenant_feature("acme") == "tenant_0574"
    assert tenant_feature(" ACME ") == "tenant_0574"
    assert extract_features(action())["tenant_0574"] == 1.0


@given(
    content=st.text(max_size=300),
    priority=st.sampled_from(["low", "normal", "high", "critical", "odd"]),
    tool=st.one_of(st.none(), st.text(max_size=30)),
    amount=st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=10)),
    tenant=st.text(min_size=1, max_size=20),
)
def test_every_feature_is_a_finite_number_in_the_unit_interval(
    content: str, priority: str, tool: str | None, amount: object, tenant: str
) -> None:
    features = extract_features(
        action(content, priority=priority, tool=tool, tenant_id=tenant, payload={"amount": amount})
    )
    assert set(COMPONENTS) <= set(features)
    assert sum(name.startswith("tenant_") for name in features) == 1
    for name, value in features.items():
        assert math.isfinite(value) and 0.0 <= value <= 1.0, (name, value)
    assert all(int(n[len("tenant_") :]) < TENANT_BUCKETS for n in features if n.startswith("tenant_"))


def test_every_unicode_format_character_is_ignored_inside_a_keyword() -> None:
    import sys
    import unicodedata

    hidden = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    missed = [hex(ord(c)) for c in hidden if content_keywords(f"trans{c}fer é") != {"kw_transfer"}]
    assert missed == []
