"""Small helpers shared by the local service launchers: ports, readiness loops, process groups."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from infra.exceptions import StackError


def interrupt_on_sigterm() -> None:
    """Make SIGTERM raise KeyboardInterrupt in the main thread, as Ctrl-C does, so the ``finally`` that stops
    the processes this one started also runs when it is terminated (``kill``, ``timeout``, a CI runner)."""
    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def require_free_port(port: int, service: str) -> None:
    if port_is_open(port):
        raise StackError(
            f"{service}: port {port} on 127.0.0.1 is already taken by another process; "
            f"stop it or choose another port (see `acgs status` / ACGS_*_PORT)"
        )


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, proc: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    """Poll ``check`` until it returns True; fail with a clear message on deadline or early process exit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what}: process exited with code {proc.returncode}{_log_tail(log)}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - readiness probes fail in many ways while a service boots
            pass
        time.sleep(0.1)
    raise StackError(f"{what}: not ready after {timeout_s:.0f}s{_log_tail(log)}")


def _log_tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(tail)


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Start a child in its own process group with output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                            start_new_session=True)


def stop_process(proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL if it outlives ``timeout_s``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
