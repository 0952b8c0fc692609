"""PII detectors: positive and negative cases, Luhn and IBAN checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.scoring.features import detect_pii, iban_valid, luhn_valid


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+ops@example.co.uk today", "email"),
        ("call +1 415 555 2671 now", "phone"),
        ("call (415) 555-2671", "phone"),
        ("ring +44 20 7946 0958", "phone"),
        ("card 4111 1111 1111 1111 exp 12/29", "credit_card"),
        ("card 5500-0000-0000-0004", "credit_card"),
        ("amex 378282246310005", "credit_card"),
        ("ssn 123-45-6789", "ssn"),
        ("pay GB82 WEST 1234 5698 7654 32 please", "iban"),
        ("iban DE89370400440532013000", "iban"),
        ("lowercase de89 3704 0044 0532 0130 00", "iban"),
    ],
)
def test_each_kind_of_pii_is_detected(text: str, kind: str) -> None:
    assert kind in detect_pii(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mention @ops in the channel", "email"),
        ("user@localhost has no domain", "email"),
        ("order 12345 shipped", "phone"),
        ("release 2026-11-05 went out", "phone"),
        ("bare digits 4155552671 are not called a phone", "phone"),
        ("card 4111 1111 1111 1112 fails Luhn", "credit_card"),
        ("twelve digits 4111 1111 1111 are too few", "credit_card"),
        ("ssn 000-12-3456 is never issued", "ssn"),
        ("ssn 666-12-3456 is never issued", "ssn"),
        ("ssn 923-45-6789 is never issued", "ssn"),
        ("version 123-45-67890 is longer", "ssn"),
        ("GB82 WEST 1234 5698 7654 33 has a wrong check", "iban"),
        ("model AB12 CDEF GHIJ KLMN is not an iban", "iban"),
    ],
)
def test_look_alikes_are_not_detected(text: str, kind: str) -> None:
    assert kind not in detect_pii(text)


def test_plain_text_has_no_pii() -> None:
    assert detect_pii("Summarise the weekly status report for the platform team") == frozenset()
    assert detect_pii("") == frozenset()


def test_several_kinds_are_reported_together() -> None:
    text = "jane@example.com, +1 415 555 2671, 4111111111111111, 123-45-6789"
    assert detect_pii(text) == {"email", "phone", "credit_card", "ssn"}


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("79927398713", True),  # the textbook example
        ("79927398710", False),
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("0", True),
        ("18", True),
        ("19", False),
    ],
)
def test_luhn_check_matches_known_values(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


def test_luhn_refuses_anything_but_ascii_digits() -> None:
    with pytest.raises(ValueError, match="want ASCII digits"):
        luhn_valid("4111 1111")
    with pytest.raises(ValueError, match="want ASCII digits"):
        luhn_valid("٤١١١")  # Arabic-Indic digits are digits, but not ours


@given(st.text(alphabet="0123456789", min_size=1, max_size=18), st.integers(1, 9))
def test_changing_one_digit_always_breaks_a_valid_luhn_number(body: str, delta: int) -> None:
    # Append the check digit that makes `body` valid, then change the last digit.
    check = next(str(d) for d in range(10) if luhn_valid(body + str(d)))
    assert luhn_valid(body + check)
    assert not luhn_valid(body + str((int(check) + delta) % 10))


def test_iban_check_is_mod_97() -> None:
    assert iban_valid("GB82WEST12345698765432")
    assert iban_valid("gb82 west 1234 5698 7654 32")
    assert not iban_valid("GB82WEST12345698765433")
    assert not iban_valid("GB82")
    assert not iban_valid("8282WEST12345698765432")
