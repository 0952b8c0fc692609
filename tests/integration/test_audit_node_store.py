"""The NodeStore contract (tests/streams/audit/test_node_store.py) run against PostgresNodeStore.

Each test gets a fresh schema holding only ``audit_nodes``, dropped afterwards; the store runs on an
autocommit connection, so every ``put_nodes`` is a transaction of its own (its all-or-nothing rule is then
the store's doing, not a caller's rollback).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from streams.audit.merkle import NodeStore
from streams.audit.pg_store import AUDIT_DDL, PostgresNodeStore
from tests.streams.audit import test_node_store as contract

# Re-export every contract test: collected here, they run with this module's `store` fixture.
globals().update({name: getattr(contract, name) for name in dir(contract) if name.startswith("test_")})


@pytest.fixture
def store(platform) -> Iterator[NodeStore]:  # noqa: ANN001
    schema = f"node_store_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(platform.settings.postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(AUDIT_DDL)
        try:
            yield PostgresNodeStore(conn)
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_clash_inside_a_callers_transaction_leaves_that_transaction_usable(platform) -> None:  # noqa: ANN001
    schema = f"node_store_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(platform.settings.postgres_dsn) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(AUDIT_DDL)
        conn.commit()
        store = PostgresNodeStore(conn)
        try:
            with conn.transaction():
                store.put_nodes({(0, 0): contract.A})
                with pytest.raises(contract.NodeConflictError):
                    store.put_nodes({(0, 1): contract.B, (0, 0): contract.C})
                store.put_nodes({(0, 2): contract.C})  # the savepoint rolled back; the outer transaction lives
            assert store.get_nodes([(0, 0), (0, 1), (0, 2)]) == {(0, 0): contract.A, (0, 2): contract.C}
        finally:
            conn.rollback()
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.commit()
