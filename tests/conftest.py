"""Shared test configuration: integration tests get one real local stack per session, on test-only ports."""

from __future__ import annotations

import shutil

import pytest

from acgs.settings import REPO_ROOT, Settings

TEST_STATE = REPO_ROOT / ".state" / "test"


def test_settings() -> Settings:
    return Settings(state_dir=TEST_STATE, kafka_port=19092, kafka_controller_port=19093, postgres_port=15433,
                    redis_port=16380, http_port=18080, produce_timeout_ms=3000)


test_settings.__test__ = False  # a factory, not a test


@pytest.fixture(scope="session")
def platform():
    """The whole platform (Kafka, Postgres, Redis, gateway, gate, projections) started once, fresh."""
    from infra.supervisor import Platform

    settings = test_settings()
    if settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)
    running = Platform(settings)
    running.start()
    yield running
    running.stop()
