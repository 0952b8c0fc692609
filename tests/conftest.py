"""Shared test configuration: integration tests get one real local stack per session, on test-only ports."""

from __future__ import annotations

import shutil

import pytest

from acgs.settings import REPO_ROOT, Settings

TEST_STATE = REPO_ROOT / ".state" / "test"
SLACK_TEST_SECRET = "test-slack-signing-secret"
TEAMS_TEST_SECRET = "dGVzdC10ZWFtcy1zZWNyZXQ="  # base64("test-teams-secret")


def test_settings() -> Settings:
    return Settings(state_dir=TEST_STATE, kafka_port=19092, kafka_controller_port=19093, postgres_port=15433,
                    redis_port=16380, http_port=18080, produce_timeout_ms=3000,
                    # The audit log: a local chain on its own port, short intervals so tests wait little.
                    chain_port=18545, chain_block_interval_ms=500, audit_checkpoint_interval_s=0.3,
                    anchor_interval_s=2.0, anchor_confirmations=2, anchor_rpc_timeout_s=2.0, anchor_retry_max_s=2.0,
                    # Governance: inbound chat webhooks are signed with these; notification retries are quick.
                    slack_signing_secret=SLACK_TEST_SECRET, teams_webhook_secret=TEAMS_TEST_SECRET,
                    notify_backoff_s=0.1, notify_max_attempts=4, notify_timeout_s=2.0)


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
