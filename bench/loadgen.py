"""Load generators for the benchmark: wrk (closed loop, max throughput) and an open-loop fixed-rate client.

The open-loop client measures latency from each request's *scheduled* send time, so a slow server cannot
hide its queueing delay (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path

import orjson
import redis.asyncio as aioredis

from commands.directory import NOTIFY_CHANNEL

LUA = Path(__file__).resolve().parent / "send.lua"
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


def _request(host: str, port: int, i: int, content: str) -> bytes:
    body = orjson.dumps({"from_agent": f"fixed-s{i % 64}", "to_agent": f"fixed-r{i % 64}", "tenant_id": "bench",
                         "message_type": "command", "priority": "normal", "content": content,
                         "constitutional_hash": "cdd01ef066bc6cf2"})
    return (f"POST /api/v1/messages/send HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    return status, await reader.readexactly(length)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


async def open_loop(host: str, port: int, redis_url: str, rate: int, seconds: int, connections: int = 48,
                    content_bytes: int = 200) -> dict:
    """Send ``rate`` commands/s for ``seconds``; report intake latency and command→read-model latency."""
    visible: dict[str, float] = {}
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(NOTIFY_CHANNEL)

    async def watch() -> None:
        async for note in pubsub.listen():
            now = time.perf_counter()
            for command_id in orjson.loads(note["data"]).get("c", ()):
                visible.setdefault(command_id, now)

    watcher = asyncio.create_task(watch())
    free: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection(host, port))
    content = "x" * content_bytes
    scheduled: dict[str, float] = {}
    intake: list[float] = []
    errors = 0
    total = rate * seconds
    t0 = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        nonlocal errors
        sched = t0 + i / rate
        await asyncio.sleep(max(0.0, sched - time.perf_counter()))
        reader, writer = await free.get()
        writer.write(_request(host, port, i, content))
        status, body = await _read_response(reader)
        done = time.perf_counter()
        free.put_nowait((reader, writer))
        if status != 202:
            errors += 1
            return
        intake.append((done - sched) * 1000)
        scheduled[orjson.loads(body)["command_id"]] = sched

    await asyncio.gather(*(one(i) for i in range(total)))
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and any(c not in visible for c in scheduled):
        await asyncio.sleep(0.05)
    watcher.cancel()
    await client.aclose()
    to_read_model = [(visible[c] - s) * 1000 for c, s in scheduled.items() if c in visible]
    return {"rate": rate, "seconds": seconds, "sent": total, "errors": errors,
            "intake_p50_ms": _pct(intake, 0.50), "intake_p99_ms": _pct(intake, 0.99),
            "read_model_p50_ms": _pct(to_read_model, 0.50), "read_model_p99_ms": _pct(to_read_model, 0.99),
            "never_visible": len(scheduled) - len(to_read_model)}
