"""PostgreSQL 15 from the machine's packages, run as the ``postgres`` user in a data dir we own."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.exceptions import StackError
from infra.process import require_free_port, wait_until

DATABASE = "acgs"


def pg_bin_dir() -> Path:
    """Locate initdb/pg_ctl: Debian keeps them under /usr/lib/postgresql/<major>/bin."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise StackError("PostgreSQL: initdb not found; install it (apt-get install -y postgresql)")


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and the server refuse to run as root; drop to the postgres account when we are root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@dataclass
class PostgresServer:
    state_dir: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "postgres" / "data"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _init(self, bindir: Path) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir.parent)
        self._chown(self.data_dir)
        result = subprocess.run(
            _as_postgres([str(bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--locale=C", "--no-instructions"]),
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL: initdb failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout_s: float = 30.0) -> None:
        require_free_port(self.port, "PostgreSQL")
        bindir = pg_bin_dir()
        self._init(bindir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        self._chown(self.log_path)
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=on "
                   f"-c max_connections=200 -c shared_buffers=256MB -c synchronous_commit=on")
        result = subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options,
                          "-w", "-t", str(int(timeout_s)), "start"]),
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL: pg_ctl start failed:\n{result.stdout}{result.stderr}")
        wait_until(self._create_database, timeout_s, f"PostgreSQL on 127.0.0.1:{self.port}", log=self.log_path)

    def _create_database(self) -> bool:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True,
                             connect_timeout=2) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        return postgres_ok(self.dsn)

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(_as_postgres([str(pg_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
                                     "stop"]), capture_output=True, text=True)


def postgres_ok(dsn: str) -> bool:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)
