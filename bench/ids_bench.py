"""Derived ids (commands/ids.py ``derived_id``) next to the standard library's ``str(uuid.uuid5(...))``.

Run from the repository root::

    .venv/bin/python bench/ids_bench.py                # 200,000 ids each
    .venv/bin/python bench/ids_bench.py --ids 1000000

It prints µs per id for each, over names shaped like the gate's (a prefix and a command id), alternating the
two so that the machine's speed drifts into both alike.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.ids import derived_id  # noqa: E402
from commands.intake import IDEMPOTENCY_NAMESPACE  # noqa: E402


def _stdlib(namespace: uuid.UUID, name: str) -> str:
    return str(uuid.uuid5(namespace, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=200_000, help="ids per measurement (default 200,000)")
    args = parser.parse_args(argv)
    names = [f"delivered\x00{uuid.uuid4()}" for _ in range(1000)]
    spent = {"uuid.uuid5": 0.0, "derived_id": 0.0}
    rounds = max(1, args.ids // len(names))
    for _ in range(rounds):
        for label, make in (("uuid.uuid5", _stdlib), ("derived_id", derived_id)):
            started = time.perf_counter()
            for name in names:
                make(IDEMPOTENCY_NAMESPACE, name)
            spent[label] += time.perf_counter() - started
    count = rounds * len(names)
    for label, seconds in spent.items():
        print(f"{label:>11}: {seconds / count * 1e6:.2f} µs per id ({count:,} ids)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
