"""Operator-facing failures of the local stack are one clear line, not a traceback."""

from __future__ import annotations

import pytest

from infra.exceptions import StackError
from infra.kafka import KafkaServer
from infra.stack import redacted


def test_kafka_without_java_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    with pytest.raises(StackError, match="java not found"):
        KafkaServer(tmp_path, tmp_path, 1, 2).start()


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://acgs:secret@db:5432/acgs", "postgresql://acgs:***@db:5432/acgs"),
    ("redis://:secret@cache:6379/0", "redis://:***@cache:6379/0"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("host=db password=secret dbname=acgs", "host=db password=*** dbname=acgs"),
    ("host=db password='two words' user=u", "host=db password=*** user=u"),
])
def test_credentials_are_never_shown(url, shown):
    assert redacted(url) == shown


def test_servers_older_than_the_tested_versions_are_refused_with_their_versions_named():
    from infra.stack import require_versions

    require_versions({"postgres": "15.14 (Debian 15.14-0+deb12u1)", "redis": "7.0.15"})
    require_versions({"postgres": "17beta1", "redis": "7.4.2"})
    with pytest.raises(StackError) as caught:
        require_versions({"postgres": "14.11", "redis": "6.2.14"})
    assert str(caught.value) == ("server too old: postgres 14.11 (need 15.0 or newer); "
                                 "redis 6.2.14 (need 7.0 or newer)")
    with pytest.raises(StackError, match="cannot read the server version"):
        require_versions({"redis": "unknown"})


def test_sigterm_interrupts_like_ctrl_c_so_cleanup_runs():
    import os
    import signal

    from infra.process import interrupt_on_sigterm

    previous = signal.getsignal(signal.SIGTERM)
    cleaned = []
    try:
        interrupt_on_sigterm()
        with pytest.raises(KeyboardInterrupt):
            try:
                os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before the next bytecode
            finally:
                cleaned.append(True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert cleaned == [True]
