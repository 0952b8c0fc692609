"""One frozen settings class for every ACGS-2 deployable.

Nothing else in the code base reads ``os.environ``: processes receive their endpoints through these
settings (the supervisor passes them down to the processes it starts as environment variables).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONSTITUTIONAL_HASH = "cdd01ef066bc6cf2"


class Settings(BaseSettings):
    """Configuration of one ACGS-2 process; every field can be set by the environment variable shown."""

    model_config = SettingsConfigDict(env_prefix="ACGS_", frozen=True, extra="ignore")

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
    max_body_bytes: int = 2 * 1024 * 1024
    produce_timeout_ms: int = Field(5000, ge=100)
    max_wait_ms: int = 30000
    idempotency_ttl_s: int = 24 * 3600
    log_level: str = "INFO"

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
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
