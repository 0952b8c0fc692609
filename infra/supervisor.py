"""The whole platform as local processes: stack, migrations, topics, gateway, stream gate, projections.

Used by ``acgs run`` (and ``make run``) and by the integration tests, which start it on their own ports.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from acgs.migrate import migrate
from acgs.settings import Settings
from infra.chain import ensure_contract
from infra.exceptions import StackError
from infra.process import require_free_port, spawn, stop_process, wait_until
from infra.stack import LocalStack
from infra.topics import ensure_topics

PYTHON = sys.executable
COMPONENTS = {
    "gateway": ["-m", "acgs.cli", "gateway"],
    "gate": ["-m", "acgs.cli", "worker", "gate"],
    "projections": ["-m", "acgs.cli", "worker", "projections"],
    "audit": ["-m", "acgs.cli", "worker", "audit"],
    "approvals": ["-m", "acgs.cli", "worker", "approvals"],
    "anchor": ["-m", "acgs.cli", "worker", "anchor"],
}


@dataclass
class Platform:
    settings: Settings
    stack: LocalStack | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # learnt while starting (the contract address)

    def start(self) -> None:
        s = self.settings
        require_free_port(s.http_port, "gateway")
        self.stack = LocalStack(s)
        self.stack.start()
        try:
            migrate(s.postgres_dsn)
            ensure_topics(s.kafka_bootstrap, s.topic_partitions)
            self._prepare_audit_log()
            for name in self.components():
                self.start_component(name)
            wait_until(self._gateway_ready, 60, f"gateway on {s.gateway_url}", self.procs["gateway"],
                       self.log_path("gateway"))
        except BaseException:
            self.stop()
            raise

    def components(self) -> list[str]:
        s = self.settings
        skipped = set() if s.audit_enabled else {"audit", "anchor"}
        if not s.anchoring_enabled or s.anchor_signing_key is None:  # no key: anchors can be read, not made
            skipped.add("anchor")
        return [n for n in COMPONENTS if n not in skipped]

    def _prepare_audit_log(self) -> None:
        from streams.audit.keys import ensure_dev_signing_key

        s = self.settings
        if s.audit_signing_key is None:
            ensure_dev_signing_key(s.state_dir)  # before the workers start, so they all read one key
        if s.audit_enabled and s.anchoring_enabled:
            self.extra_env.update(ensure_contract(s))

    def log_path(self, name: str):  # noqa: ANN201
        return self.settings.state_dir / "logs" / f"{name}.log"

    def start_component(self, name: str, code_dir: Path | None = None) -> subprocess.Popen:
        """Start component ``name``; with ``code_dir``, from the code checked out there (``bench.ab``)."""
        env = {**self.settings.child_env(), **self.extra_env}
        if code_dir is not None:
            env["PYTHONPATH"] = str(code_dir)
        self.procs[name] = spawn([PYTHON, *COMPONENTS[name]], self.log_path(name), env=env, cwd=code_dir)
        return self.procs[name]

    def stop_component(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            stop_process(proc)

    def _gateway_ready(self) -> bool:
        return httpx.get(f"{self.settings.gateway_url}/ready", timeout=2).status_code == 200

    def failed_components(self) -> dict[str, int]:
        return {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}

    def supervise(self) -> None:
        """Restart a crashed component (with a pause) until interrupted."""
        while True:
            for name, code in self.failed_components().items():
                print(f"{name} exited with code {code}; restarting (log: {self.log_path(name)})", flush=True)
                time.sleep(1)
                self.start_component(name)
            time.sleep(0.5)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop_component(name)
        if self.stack is not None:
            self.stack.stop()


__all__ = ["Platform", "StackError"]
