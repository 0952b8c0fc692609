"""Derived ids are exactly the standard library's version 5 UUIDs: a replayed record must get the same id."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from commands.ids import derived_id, new_id
from commands.intake import IDEMPOTENCY_NAMESPACE


@given(namespace=st.uuids(), name=st.text())
def test_derived_id_equals_uuid5_for_any_namespace_and_name(namespace: uuid.UUID, name: str) -> None:
    assert derived_id(namespace, name) == str(uuid.uuid5(namespace, name))


def test_derived_id_is_a_version_5_rfc_4122_uuid() -> None:
    parsed = uuid.UUID(derived_id(IDEMPOTENCY_NAMESPACE, "delivered\x00c0ffee"))
    assert parsed.version == 5 and parsed.variant == uuid.RFC_4122


def test_derived_id_pins_a_known_value() -> None:
    # python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"))'
    assert derived_id(uuid.NAMESPACE_DNS, "python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d"


def test_new_ids_are_random_version_4_uuids() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(uuid.UUID(i).version == 4 for i in ids)
