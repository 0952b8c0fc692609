"""The local stack: Kafka, PostgreSQL and Redis as processes in a state directory the project owns.

A service whose endpoint is given from outside (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, REDIS_URL) is not
started; it is only checked for readiness.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from acgs.settings import Settings
from infra.chain import ChainServer, chain_id_of
from infra.exceptions import StackError
from infra.kafka import KafkaServer, kafka_metadata_ok
from infra.postgres import PostgresServer, postgres_ok
from infra.process import wait_until
from infra.redis import RedisServer, redis_ok


@dataclass
class LocalStack:
    settings: Settings
    kafka: KafkaServer | None = None
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    chain: ChainServer | None = None
    started: list[str] = field(default_factory=list)

    def start(self) -> None:
        """Start (or check) every service; on failure stop what was started and raise StackError."""
        s = self.settings
        s.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_postgres(s)
            self._start_redis(s)
            self._start_kafka(s)
            self._start_chain(s)
            require_versions(server_versions(s))
        except BaseException:
            self.stop()
            raise
        self._write_endpoints()

    def _start_kafka(self, s: Settings) -> None:
        if s.kafka_bootstrap_servers:
            wait_until(lambda: kafka_metadata_ok(s.kafka_bootstrap), 30, f"external Kafka {s.kafka_bootstrap}")
            return
        self.kafka = KafkaServer(s.state_dir, s.cache_dir, s.kafka_port, s.kafka_controller_port, s.kafka_heap)
        self.kafka.start()
        self.started.append("kafka")

    def _start_postgres(self, s: Settings) -> None:
        if s.database_url:
            wait_until(lambda: postgres_ok(s.postgres_dsn), 30, "external PostgreSQL (DATABASE_URL)")
            return
        self.postgres = PostgresServer(s.state_dir, s.postgres_port)
        self.postgres.start()
        self.started.append("postgres")

    def _start_redis(self, s: Settings) -> None:
        if s.redis_url:
            wait_until(lambda: redis_ok(s.redis_dsn), 30, "external Redis (REDIS_URL)")
            return
        self.redis = RedisServer(s.state_dir, s.redis_port)
        self.redis.start()
        self.started.append("redis")

    def _start_chain(self, s: Settings) -> None:
        if not (s.audit_enabled and s.anchoring_enabled):
            return
        if not s.chain_is_local:
            wait_until(lambda: chain_id_of(s.eth_rpc) > 0, 30, "external chain (ETH_RPC_URL)")
            return
        self.chain = ChainServer(s.state_dir, s.chain_port, s.chain_block_interval_ms)
        self.chain.start()
        self.started.append("chain")

    def _write_endpoints(self) -> None:
        (self.settings.state_dir / "endpoints.json").write_text(json.dumps(self.endpoints(), indent=2))

    def endpoints(self) -> dict[str, str]:
        s = self.settings
        # For people and their terminals: credentials are never printed (the components read the settings).
        return {"kafka": s.kafka_bootstrap, "postgres": redacted(s.postgres_dsn), "redis": redacted(s.redis_dsn),
                "gateway": s.gateway_url, "docs": f"{s.gateway_url}/docs", "dashboard": f"{s.gateway_url}/dashboard",
                **({"chain": _public_rpc(s.eth_rpc)} if s.audit_enabled and s.anchoring_enabled else {})}

    def stop(self) -> None:
        """Stop every service this stack started, newest first."""
        for name in reversed(self.started):
            server = getattr(self, name)
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                print(f"warning: stopping {name} failed: {exc}")
        self.started.clear()
        (self.settings.state_dir / "endpoints.json").unlink(missing_ok=True)


def redacted(url: str) -> str:
    """A connection URL or libpq ``key=value`` string as it may be shown: any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in url:
        return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _public_rpc(url: str) -> str:
    from streams.anchoring.deployment import public_rpc_url

    return public_rpc_url(url)


# The versions the platform is built and tested on (its SQL and Redis commands may work on older ones, but that
# is not known): an older server is refused at start with its version named, not left to fail later.
MIN_VERSIONS = {"postgres": (15, 0), "redis": (7, 0)}


def server_versions(settings: Settings) -> dict[str, str]:
    """The version each running Postgres and Redis server reports."""
    import psycopg
    import redis

    with psycopg.connect(settings.postgres_dsn, connect_timeout=5) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    client = redis.Redis.from_url(settings.redis_dsn, socket_connect_timeout=5, socket_timeout=5)
    try:
        redis_version = str(client.info("server")["redis_version"])
    finally:
        client.close()
    return {"postgres": postgres, "redis": redis_version}


def _major_minor(version: str) -> tuple[int, int]:
    found = re.match(r"(\d+)(?:\.(\d+))?", version.strip())
    if found is None:
        raise StackError(f"cannot read the server version {version!r}")
    return int(found.group(1)), int(found.group(2) or 0)


def require_versions(versions: dict[str, str]) -> None:
    """Raise StackError naming every server older than MIN_VERSIONS."""
    old = [f"{name} {version} (need {'.'.join(map(str, MIN_VERSIONS[name]))} or newer)"
           for name, version in versions.items() if _major_minor(version) < MIN_VERSIONS[name]]
    if old:
        raise StackError("server too old: " + "; ".join(old))


def check_ready(settings: Settings) -> dict[str, str | None]:
    """Probe each service once; map name → None when reachable, else the error text."""
    probes = {"kafka": lambda: kafka_metadata_ok(settings.kafka_bootstrap, 2.0),
              "postgres": lambda: postgres_ok(settings.postgres_dsn),
              "redis": lambda: redis_ok(settings.redis_dsn)}
    if settings.audit_enabled and settings.anchoring_enabled:
        probes["chain"] = lambda: chain_id_of(settings.eth_rpc) == settings.eth_chain_id
    result: dict[str, str | None] = {}
    for name, probe in probes.items():
        try:
            result[name] = None if probe() else "not ready"
        except Exception as exc:  # noqa: BLE001 - report any failure by name
            result[name] = str(exc) or type(exc).__name__
    return result


__all__ = ["LocalStack", "StackError", "check_ready", "require_versions", "server_versions"]
