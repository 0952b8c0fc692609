"""bench.ab's comparison: medians per variant over interleaved rounds, and CPU relative to the yardstick."""

from __future__ import annotations

import pytest

from acgs.settings import REPO_ROOT
from bench import ab


def _run(variant: str, total: float, gate: float, gateway: float, read_p99: float) -> dict:
    return {"variant": variant, "intake_p50_ms": 5.0, "intake_p99_ms": 10.0, "read_model_p50_ms": 20.0,
            "read_model_p99_ms": read_p99,
            "cpu_us_per_command": {"total": total, "worker gate": gate, "gateway": gateway}}


def test_each_variant_gets_its_medians_and_cpu_relative_to_the_gateway_of_the_same_run():
    runs = [_run("old", 1600, 400, 320, 60), _run("new", 1500, 300, 300, 50),
            _run("old", 1400, 350, 280, 40), _run("new", 1650, 360, 330, 70),
            _run("old", 2000, 500, 400, 90), _run("new", 1300, 270, 270, 45)]
    summary = ab.summarize(runs, "worker gate")
    assert list(summary) == ["old", "new"]
    old, new = summary["old"], summary["new"]
    assert old["rounds"] == new["rounds"] == 3
    assert old["read_model_p99_ms"] == 60 and new["read_model_p99_ms"] == 50
    assert old["cpu_worker gate_us"] == 400 and new["cpu_worker gate_us"] == 300
    # old: 400/320 = 1.25, 350/280 = 1.25, 500/400 = 1.25; new: 1.0, 360/330 = 1.09, 1.0
    assert old["cpu_worker gate_per_yardstick"] == pytest.approx(1.25)
    assert new["cpu_worker gate_per_yardstick"] == pytest.approx(1.0)
    assert old["cpu_total_per_yardstick"] == pytest.approx(5.0)
    table = ab.report(summary, "worker gate")
    assert "| old | 3 |" in table and "| 1.25 |" in table and "| new | 3 |" in table


def test_the_working_tree_is_its_own_checkout_and_one_revision_is_refused():
    assert ab.checkout(".") == REPO_ROOT
    with pytest.raises(SystemExit):
        ab.main(["--rev", "."])


def test_the_gateway_is_not_swappable_it_is_the_yardstick():
    assert "gateway" not in ab.SWAPPABLE and "gate" in ab.SWAPPABLE


def test_a_component_that_exits_interrupts_the_run_instead_of_a_long_wait(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from infra.process import interrupt_on_sigterm

    previous = signal.getsignal(signal.SIGTERM)
    interrupt_on_sigterm()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    try:
        with pytest.raises(KeyboardInterrupt):
            with ab._fail_fast_if_it_exits(proc, "worker gate from x", tmp_path / "gate.log"):
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:  # stands in for the drain wait
                    time.sleep(0.05)
                pytest.fail("not interrupted within 20 s")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert proc.returncode == 3


def test_a_component_that_keeps_running_is_left_alone(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with ab._fail_fast_if_it_exits(proc, "worker gate from x", tmp_path / "gate.log"):
            pass
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_the_same_revision_twice_is_an_a_a_run_with_two_labels():
    assert ab.variants_of([".", "."]) == [(".#1", REPO_ROOT), (".#2", REPO_ROOT)]
    assert [label for label, _ in ab.variants_of(["."])] == ["."]
