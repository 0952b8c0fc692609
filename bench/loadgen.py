"""Load generators for the benchmark: wrk (closed loop, max throughput) and an open-loop fixed-rate client.

The open-loop client (``bench/openloop``, Go) measures latency from each request's *scheduled* send time, so
a slow server cannot hide its queueing delay (no coordinated omission).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from acgs.settings import REPO_ROOT
from commands.directory import NOTIFY_CHANNEL

LUA = Path(__file__).resolve().parent / "send.lua"
OPENLOOP_SRC = Path(__file__).resolve().parent / "openloop"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, seconds: int, connections: int, threads: int = 1, content_bytes: int = 200) -> dict:
    """Run wrk against ``url`` and parse throughput and latency percentiles (ms)."""
    env = {**os.environ, "ACGS_BENCH_CONTENT": str(content_bytes)}
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", str(LUA), url], capture_output=True, text=True, env=env, check=True).stdout
    result = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        result[f"p{pct}_ms"] = float(m.group(1)) * _UNITS[m.group(2)]
    result["raw"] = out
    return result


def openloop_binary() -> Path:
    """Build ``bench/openloop`` (Go, standard library only) into the state dir when its source is newer."""
    out = REPO_ROOT / ".state" / "bin" / "openloop"
    newest = max(f.stat().st_mtime for f in OPENLOOP_SRC.iterdir())
    if not out.exists() or out.stat().st_mtime < newest:
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "build", "-o", str(out), "."], cwd=OPENLOOP_SRC, check=True,
                       env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"})
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def open_loop(host: str, port: int, redis_url: str, rate: int, seconds: int, connections: int = 48,
              content_bytes: int = 200) -> dict:
    """Send ``rate`` commands/s for ``seconds`` (``bench/openloop``); intake and command→read-model latency.

    ``trace`` in the answer holds, per command id, the wall-clock times (s) it was scheduled, answered and
    seen final in the read model, for ``bench.hops`` to split the latency by stage."""
    redis = urlsplit(redis_url)
    out = subprocess.run([str(openloop_binary()), "-host", host, "-port", str(port), "-rate", str(rate),
                          "-seconds", str(seconds), "-connections", str(connections),
                          "-content-bytes", str(content_bytes), "-redis", f"{redis.hostname}:{redis.port or 6379}",
                          "-channel", NOTIFY_CHANNEL], capture_output=True, check=True).stdout
    answer = orjson.loads(out)
    trace = {c: (scheduled, answered, visible) for c, scheduled, answered, visible in answer["trace"]}
    intake = [(answered - scheduled) * 1000 for scheduled, answered, _ in trace.values()]
    to_read_model = [(visible - scheduled) * 1000 for scheduled, _, visible in trace.values() if visible is not None]
    return {"rate": rate, "seconds": seconds, "sent": answer["sent"], "errors": answer["errors"],
            "intake_p50_ms": percentile(intake, 0.50), "intake_p99_ms": percentile(intake, 0.99),
            "read_model_p50_ms": percentile(to_read_model, 0.50), "read_model_p99_ms": percentile(to_read_model, 0.99),
            "never_visible": len(trace) - len(to_read_model), "trace": trace}
