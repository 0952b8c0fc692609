"""The Kafka broker's collector pauses over a time window, read from its GC log (``infra.kafka.gc_log_path``).

A pause stops every broker thread, so each produce acknowledgement and fetch waiting at that moment waits
for it too: over a short fixed-rate run, the longest pauses are a floor under the latency P99s.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

# [2026-12-02T06:12:00.123+0000][10.805s][info][gc] GC(8) Pause Young (Normal) (G1 Evacuation Pause) ... 41.308ms
_PAUSE = re.compile(r"^\[(?P<time>[^\]]+)\](?:\[[^\]]*\])* GC\(\d+\) (?P<what>Pause [^()]+).* (?P<ms>[\d.]+)ms$")


def pauses(log: Path, start: float, end: float) -> list[tuple[str, float]]:
    """(kind, milliseconds) of every pause whose line was written between the Unix times ``start``/``end``."""
    found = []
    for path in sorted(log.parent.glob(log.name + "*")):  # the JVM rotates to kafka-gc.log.0, .1, ...
        for line in path.read_text(errors="replace").splitlines():
            m = _PAUSE.match(line)
            if m is None:
                continue
            at = datetime.strptime(m.group("time"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
            if start <= at <= end + 1.0:  # a pause is logged when it ends
                found.append((m.group("what").strip(), float(m.group("ms"))))
    return found


def summary(log: Path, start: float, end: float) -> dict:
    found = [ms for _, ms in pauses(log, start, end)]
    return {"pauses": len(found), "max_ms": max(found, default=0.0), "total_ms": round(sum(found), 1)}
