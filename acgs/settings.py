"""One frozen settings class for every ACGS-2 deployable.

Nothing else in the code base reads ``os.environ``: processes receive their endpoints through these
settings (the supervisor passes them down to the processes it starts as environment variables).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONSTITUTIONAL_HASH = "cdd01ef066bc6cf2"
LOCAL_CHAIN_ID = 31337  # hardhat's
# Hardhat's well-known account #0: public test key, only ever used for the local chain.
HARDHAT_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class Settings(BaseSettings):
    """Configuration of one ACGS-2 process; every field can be set by the environment variable shown."""

    # hide_input_in_errors: a validation error must never print the secrets it was given.
    model_config = SettingsConfigDict(env_prefix="ACGS_", frozen=True, extra="ignore", hide_input_in_errors=True)

    constitutional_hash: str = Field(DEFAULT_CONSTITUTIONAL_HASH, min_length=8)

    # External endpoints. When one is set, nothing local is started for that service.
    kafka_bootstrap_servers: str | None = Field(
        None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "ACGS_KAFKA_BOOTSTRAP_SERVERS")
    )
    database_url: str | None = Field(None, validation_alias=AliasChoices("DATABASE_URL", "ACGS_DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "ACGS_REDIS_URL"))

    # The local stack (used for any service without an external endpoint).
    state_dir: Path = REPO_ROOT / ".state" / "dev"
    cache_dir: Path = REPO_ROOT / ".cache"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    postgres_port: int = 15432
    redis_port: int = 16379
    kafka_heap: str = "512m"

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    http_workers: int = 1

    topic_partitions: int = Field(3, ge=3)
    max_content_bytes: int = 1024 * 1024
    # true: a message may only name agents already bound to a tenant, by a registration
    # (POST /api/v1/agents/register) or by a message accepted before this was turned on; false (the default):
    # an agent's first accepted message binds it to that message's tenant.
    require_registration: bool = False
    max_body_bytes: int = 2 * 1024 * 1024
    produce_timeout_ms: int = Field(5000, ge=100)
    max_wait_ms: int = 30000
    idempotency_ttl_s: int = 24 * 3600
    log_level: str = "INFO"

    # Verifiable audit log. Every topic named here becomes leaves (comma-separated in ACGS_AUDIT_TOPICS).
    audit_enabled: bool = True  # false: no audit/anchor workers (e.g. to benchmark the spine alone)
    audit_topics: Annotated[tuple[str, ...], NoDecode] = ("agent.messages", "agent.registrations",
                                                         "constitutional.events", "governance.decisions",
                                                         "approval.events")
    audit_origin: str = "acgs-2.local/audit-log"
    # Ed25519 checkpoint key: 64 hex digits (seed) or PKCS#8 PEM. Unset: a dev key generated once in state_dir.
    audit_signing_key: SecretStr | None = None
    # Public verifier key (C2SP `name+id+base64`) readers check against; default: derived from the signing key.
    audit_verifier_key: str | None = None
    audit_checkpoint_interval_s: float = Field(1.0, gt=0)
    audit_batch_max: int = Field(2000, ge=1)

    # Anchoring checkpoints on an EVM chain. Without ETH_RPC_URL a local hardhat node is started on chain_port.
    anchoring_enabled: bool = True
    eth_rpc_url: str | None = Field(None, validation_alias=AliasChoices("ETH_RPC_URL", "ACGS_ETH_RPC_URL"))
    eth_chain_id: int = Field(LOCAL_CHAIN_ID, validation_alias=AliasChoices("ETH_CHAIN_ID", "ACGS_ETH_CHAIN_ID"))
    anchor_contract_address: str | None = Field(
        None, validation_alias=AliasChoices("ANCHOR_CONTRACT_ADDRESS", "ACGS_ANCHOR_CONTRACT_ADDRESS"))
    anchor_private_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ETH_PRIVATE_KEY", "ACGS_ANCHOR_PRIVATE_KEY"))
    anchor_interval_s: float = Field(10.0, gt=0)
    anchor_confirmations: int = Field(1, ge=1)
    anchor_rpc_timeout_s: float = Field(10.0, gt=0)
    anchor_retry_max_s: float = Field(30.0, gt=0)
    chain_port: int = 8545
    chain_block_interval_ms: int = Field(1000, ge=0)  # local chain: also mine a block this often (0: only on tx)

    # Governance: impact scoring, deliberation routing, approvals (JSON objects in the environment).
    impact_threshold: float = Field(0.8, ge=0.0, le=1.0)
    impact_threshold_per_tenant: dict[str, float] = Field(default_factory=dict)
    impact_threshold_per_message_type: dict[str, float] = Field(default_factory=dict)
    # tenant -> {"approvers": [{"id", "weight"?}], "policy", "sla_seconds"?, "escalation"?: [[{"id"}], ...]}
    governance_reviewers: dict[str, dict] = Field(default_factory=dict)
    deliberation_sla_seconds: float | None = Field(3600.0, gt=0)  # default SLA of a deliberation request
    approval_wait_ms: int = Field(10000, ge=100)  # how long an approval HTTP call waits for the writer's result
    approval_timer_tick_s: float = Field(0.1, gt=0)
    notify_max_attempts: int = Field(5, ge=1)
    notify_backoff_s: float = Field(0.2, gt=0)  # first retry delay; doubles per attempt
    notify_timeout_s: float = Field(5.0, gt=0)
    slack_signing_secret: SecretStr | None = None
    teams_webhook_secret: SecretStr | None = None  # base64, as Teams shows it for an outgoing webhook
    webhook_max_age_s: int = Field(300, ge=1)

    @field_validator("audit_topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    @field_validator("audit_topics")
    @classmethod
    def _audit_topics_are_sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("audit_topics must name at least one topic")
        if any(t.startswith("audit.") for t in value):
            raise ValueError("the audit log cannot audit its own audit.* topics")
        return value

    @model_validator(mode="after")
    def _dev_chain_key_stays_local(self) -> "Settings":
        key = self.anchor_private_key
        if key is not None and key.get_secret_value().strip().lower() == HARDHAT_DEV_KEY \
                and self.eth_chain_id != LOCAL_CHAIN_ID:
            raise ValueError(f"the public hardhat test key must not anchor on chain id {self.eth_chain_id}")
        return self

    @field_validator("constitutional_hash")
    @classmethod
    def _hash_is_hex(cls, value: str) -> str:
        if not all(c in "0123456789abcdef" for c in value):
            raise ValueError("constitutional hash must be lowercase hex")
        return value

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def postgres_dsn(self) -> str:
        return self.database_url or f"postgresql://postgres@127.0.0.1:{self.postgres_port}/acgs"

    @property
    def redis_dsn(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"

    @property
    def chain_is_local(self) -> bool:
        return self.eth_rpc_url is None

    @property
    def eth_rpc(self) -> str:
        return self.eth_rpc_url or f"http://127.0.0.1:{self.chain_port}"

    @property
    def anchor_signing_key(self) -> str | None:
        """The anchoring account's key: configured, or hardhat's public account #0 on the local chain only."""
        if self.anchor_private_key is not None:
            return self.anchor_private_key.get_secret_value().strip()
        return HARDHAT_DEV_KEY if self.chain_is_local else None

    def child_env(self) -> dict[str, str]:
        """Environment for a process this one starts: same configuration, endpoints made explicit."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DATABASE_URL": self.postgres_dsn,
            "REDIS_URL": self.redis_dsn,
            "ACGS_CONSTITUTIONAL_HASH": self.constitutional_hash,
            "ACGS_STATE_DIR": str(self.state_dir),
            "ACGS_CACHE_DIR": str(self.cache_dir),
            "ACGS_HTTP_HOST": self.http_host,
            "ACGS_HTTP_PORT": str(self.http_port),
            "ACGS_HTTP_WORKERS": str(self.http_workers),
            "ACGS_TOPIC_PARTITIONS": str(self.topic_partitions),
            "ACGS_LOG_LEVEL": self.log_level,
            **self._audit_env(),
            **self._governance_env(),
        }

    def _governance_env(self) -> dict[str, str]:
        import json

        env = {
            "ACGS_IMPACT_THRESHOLD": str(self.impact_threshold),
            "ACGS_IMPACT_THRESHOLD_PER_TENANT": json.dumps(self.impact_threshold_per_tenant),
            "ACGS_IMPACT_THRESHOLD_PER_MESSAGE_TYPE": json.dumps(self.impact_threshold_per_message_type),
            "ACGS_GOVERNANCE_REVIEWERS": json.dumps(self.governance_reviewers),
            "ACGS_APPROVAL_WAIT_MS": str(self.approval_wait_ms),
            "ACGS_APPROVAL_TIMER_TICK_S": str(self.approval_timer_tick_s),
            "ACGS_NOTIFY_MAX_ATTEMPTS": str(self.notify_max_attempts),
            "ACGS_NOTIFY_BACKOFF_S": str(self.notify_backoff_s),
            "ACGS_NOTIFY_TIMEOUT_S": str(self.notify_timeout_s),
            "ACGS_WEBHOOK_MAX_AGE_S": str(self.webhook_max_age_s),
        }
        if self.deliberation_sla_seconds is not None:
            env["ACGS_DELIBERATION_SLA_SECONDS"] = str(self.deliberation_sla_seconds)
        for name, secret in (("ACGS_SLACK_SIGNING_SECRET", self.slack_signing_secret),
                             ("ACGS_TEAMS_WEBHOOK_SECRET", self.teams_webhook_secret)):
            if secret is not None:
                env[name] = secret.get_secret_value()
        return env

    def _audit_env(self) -> dict[str, str]:
        env = {
            "ACGS_AUDIT_ENABLED": str(self.audit_enabled).lower(),
            "ACGS_AUDIT_TOPICS": ",".join(self.audit_topics),
            "ACGS_AUDIT_ORIGIN": self.audit_origin,
            "ACGS_AUDIT_CHECKPOINT_INTERVAL_S": str(self.audit_checkpoint_interval_s),
            "ACGS_AUDIT_BATCH_MAX": str(self.audit_batch_max),
            "ACGS_ANCHORING_ENABLED": str(self.anchoring_enabled).lower(),
            "ETH_CHAIN_ID": str(self.eth_chain_id),
            "ACGS_ANCHOR_INTERVAL_S": str(self.anchor_interval_s),
            "ACGS_ANCHOR_CONFIRMATIONS": str(self.anchor_confirmations),
            "ACGS_ANCHOR_RPC_TIMEOUT_S": str(self.anchor_rpc_timeout_s),
            "ACGS_ANCHOR_RETRY_MAX_S": str(self.anchor_retry_max_s),
            "ACGS_CHAIN_PORT": str(self.chain_port),
            "ACGS_CHAIN_BLOCK_INTERVAL_MS": str(self.chain_block_interval_ms),
        }
        optional = {"ETH_RPC_URL": self.eth_rpc_url, "ANCHOR_CONTRACT_ADDRESS": self.anchor_contract_address,
                    "ACGS_AUDIT_VERIFIER_KEY": self.audit_verifier_key,
                    # Secrets reach children only through their environment, never argv or logs.
                    "ACGS_AUDIT_SIGNING_KEY": self.audit_signing_key and self.audit_signing_key.get_secret_value(),
                    "ETH_PRIVATE_KEY": self.anchor_private_key and self.anchor_private_key.get_secret_value()}
        env.update({k: v for k, v in optional.items() if v})
        return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
