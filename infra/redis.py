"""Redis 7 from Debian's ``redis-server``, run in the foreground under our supervision."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.exceptions import StackError
from infra.process import require_free_port, spawn, stop_process, wait_until


@dataclass
class RedisServer:
    state_dir: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "redis.log"

    def start(self, timeout_s: float = 15.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("Redis: redis-server not found; install it (apt-get install -y redis-server)")
        require_free_port(self.port, "Redis")
        workdir = self.state_dir / "redis"
        workdir.mkdir(parents=True, exist_ok=True)
        # The idempotency keys (24 h) live only here: Redis appends every write to its log and fsyncs it once
        # a second, so a restart keeps them (a crash of the machine loses at most the last second's).
        # The agent directory mirror and status cache survive too; both are also rebuilt from Postgres.
        self.proc = spawn([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(workdir)],
                          self.log_path)
        wait_until(lambda: redis_ok(self.url), timeout_s, f"Redis on 127.0.0.1:{self.port}", self.proc, self.log_path)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


def redis_ok(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()
