"""KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL and REDIS_URL (and ETH_RPC_URL): the stack starts nothing of its own.

A second stack, in its own state dir and on its own (free) ports, is pointed at the test platform's services.
"""

from __future__ import annotations

import json
import socket

import pytest

import infra.stack
from acgs.settings import Settings
from infra.process import port_is_open
from infra.stack import LocalStack, check_ready


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _MustNotStart:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"a local server was created: {type(self).__name__}{args}")


def test_external_endpoints_start_no_local_service_and_are_reported_ready(platform, tmp_path, monkeypatch):
    running = platform.settings
    ports = {name: _free_port() for name in ("kafka_port", "kafka_controller_port", "postgres_port", "redis_port",
                                             "chain_port", "http_port")}
    state = tmp_path / "external"
    # Field names of the aliased endpoint settings are not accepted by the constructor: use the variables' names.
    settings = Settings(state_dir=state, **ports, KAFKA_BOOTSTRAP_SERVERS=running.kafka_bootstrap,
                        DATABASE_URL=running.postgres_dsn, REDIS_URL=running.redis_dsn, ETH_RPC_URL=running.eth_rpc)
    assert settings.kafka_bootstrap == running.kafka_bootstrap and settings.postgres_dsn == running.postgres_dsn
    assert settings.redis_dsn == running.redis_dsn and not settings.chain_is_local
    for name in ("KafkaServer", "PostgresServer", "RedisServer", "ChainServer"):
        monkeypatch.setattr(infra.stack, name, type(name, (_MustNotStart,), {}))

    stack = LocalStack(settings)
    stack.start()
    try:
        assert stack.started == [] and (stack.kafka, stack.postgres, stack.redis, stack.chain) == (None,) * 4
        assert not [name for name, port in ports.items() if port_is_open(port)]  # nothing listens where it would
        assert sorted(p.name for p in state.iterdir()) == ["endpoints.json"]  # no data dirs, no logs
        endpoints = json.loads((state / "endpoints.json").read_text())
        assert (endpoints["kafka"], endpoints["postgres"], endpoints["redis"]) == (
            running.kafka_bootstrap, running.postgres_dsn, running.redis_dsn)
        assert check_ready(settings) == {"kafka": None, "postgres": None, "redis": None, "chain": None}
    finally:
        stack.stop()
    assert not (state / "endpoints.json").exists()
    # Stopping it stopped nothing: the services it was pointed at are still up.
    assert check_ready(running) == {"kafka": None, "postgres": None, "redis": None, "chain": None}


def test_an_external_endpoint_that_does_not_answer_fails_the_start_without_starting_anything(tmp_path, monkeypatch):
    from infra.exceptions import StackError

    for name in ("KafkaServer", "PostgresServer", "RedisServer", "ChainServer"):
        monkeypatch.setattr(infra.stack, name, type(name, (_MustNotStart,), {}))
    monkeypatch.setattr(infra.stack, "wait_until", _fail_fast)
    dead = _free_port()
    settings = Settings(state_dir=tmp_path / "dead", DATABASE_URL=f"postgresql://postgres@127.0.0.1:{dead}/acgs",
                        REDIS_URL="redis://127.0.0.1:1/0", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
                        ETH_RPC_URL="http://127.0.0.1:1")
    with pytest.raises(StackError, match="external PostgreSQL"):
        LocalStack(settings).start()


def _fail_fast(check, timeout_s, what, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    from infra.process import wait_until

    return wait_until(check, 2.0, what, *args, **kwargs)
