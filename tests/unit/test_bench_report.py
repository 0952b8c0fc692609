"""The fixed-rate run's figure for its first second, from the open-loop client's trace."""

from __future__ import annotations

import pytest

from bench.run import _first_second_p99


def test_the_first_second_p99_counts_only_commands_scheduled_in_that_second():
    # 1,000/s for 3 s: the first second's commands took 500 ms to reach the read model, the others 10 ms;
    # one command of the first second never got there and is not counted.
    trace = {f"c{i}": (100 + i / 1000, 0.0, 100 + i / 1000 + (0.5 if i < 1000 else 0.01)) for i in range(3000)}
    trace["lost"] = (100.2, 0.0, None)
    assert _first_second_p99(trace) == pytest.approx(500.0)
    trace.update({f"slow{i}": (101.5, 0.0, 104.5) for i in range(100)})  # slow, but after the first second
    assert _first_second_p99(trace) == pytest.approx(500.0)
