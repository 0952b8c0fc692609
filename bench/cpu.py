"""CPU time per platform process, read from /proc: what one command costs each part of the platform.

Processes are grouped by what they run (the Kafka broker, every Postgres backend, Redis, each ``acgs``
component, and the process calling ``snapshot`` as the load generator), each counted with the children it
has waited for, so the difference of two snapshots divided by the commands sent in between is the CPU each
part spent per command.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
LOAD_GENERATOR = "load generator (bench)"


def _group(pid: int, cmdline: str, name: str) -> str | None:
    if pid == os.getpid():
        return LOAD_GENERATOR
    if "kafka.Kafka" in cmdline:
        return "kafka broker"
    if name == "postgres":
        return "postgres"
    if name == "redis-server":
        return "redis"
    if "acgs.cli" in cmdline:
        return cmdline.split("acgs.cli", 1)[1].strip()
    return None


def snapshot() -> dict[str, dict[int, float]]:
    """CPU seconds (user + system) so far, by group and pid."""
    groups: dict[str, dict[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        group = _group(int(entry.name), cmdline, name)
        if group is None:
            continue
        # With the children it has waited for: the postmaster's include Postgres backends that have exited (a
        # rebuild's connection is gone before the snapshot after it), the bench process's include openloop.
        ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        groups.setdefault(group, {})[int(entry.name)] = ticks / _TICKS
    return groups


def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each group used between two snapshots, plus ``total``."""
    used = {group: sum(cpu - before.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for group, pids in sorted(after.items())}
    used["total"] = sum(used.values())
    return used


def per_command(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]],
                commands: int) -> dict[str, float]:
    """Microseconds of CPU per command for each group, plus ``total``."""
    return {group: round(seconds / commands * 1e6, 1) for group, seconds in spent(before, after).items()}
