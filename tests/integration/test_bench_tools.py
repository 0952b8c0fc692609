"""The benchmark's own instruments against the real stack: the fixed-rate client (bench/openloop, Go) sees
every command it sends answered and final in the read model with its clocks in order; the stage split and
the autovacuum sampler report sane figures."""

from __future__ import annotations

import shutil

import pytest

from bench import hops
from bench.loadgen import open_loop
from tests.integration.conftest import wait_until


@pytest.mark.skipif(shutil.which("go") is None, reason="bench/openloop needs the Go toolchain (make bench installs it)")
def test_openloop_sends_at_its_rate_and_sees_every_command_reach_the_read_model(platform):
    s = platform.settings
    start = hops.offsets_now(s.kafka_bootstrap)
    result = open_loop("127.0.0.1", s.http_port, s.redis_dsn, rate=50, seconds=2)
    assert result["sent"] == 100 and result["errors"] == 0
    assert result["never_visible"] == 0 and len(result["trace"]) == 100
    scheduled = sorted(t[0] for t in result["trace"].values())
    assert scheduled[-1] - scheduled[0] == pytest.approx(99 / 50, abs=0.01)  # 50/s, open loop
    for sched, answered, visible in result["trace"].values():
        assert sched < answered and sched < visible
    stages = hops.split(s.kafka_bootstrap, start, result["trace"])
    assert all(stage["n"] == 100 for stage in stages.values())
    # Kafka's timestamps are whole milliseconds, so a stage that starts at one can read up to 1 ms short.
    assert all(-1.0 <= stage["p50_ms"] <= stage["p99_ms"] for stage in stages.values())


def test_the_autovacuum_sampler_reports_a_share_and_the_tables_it_saw(platform):
    from bench.run import _Autovacuum

    sampler = _Autovacuum(platform.settings.postgres_dsn)
    sampler.start()
    wait_until(lambda: sampler.samples >= 2, 10, "two samples")
    seen = sampler.stop()
    assert sampler.samples >= 1 and not sampler.is_alive()
    assert 0.0 <= seen["busy_share"] <= 1.0 and isinstance(seen["tables"], list)


def test_idle_cpu_reports_a_share_of_a_core_for_each_running_component(platform):
    from bench.run import idle_cpu

    shares = idle_cpu(1.0)
    assert {"gateway", "kafka broker", "postgres", "worker gate", "worker projections"} <= set(shares)
    assert all(0.0 <= v <= 2.0 for v in shares.values())  # two cores at most
    assert shares["total"] == pytest.approx(sum(v for g, v in shares.items() if g != "total"), abs=0.01)
