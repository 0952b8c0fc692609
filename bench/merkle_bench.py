"""Benchmark of streams.audit.merkle, next to pymerkle 7 where they compare.

Run from the repository root::

    .venv/bin/python bench/merkle_bench.py                 # 1,000,000 leaves
    .venv/bin/python bench/merkle_bench.py --leaves 100000 --samples 500

It prints leaf hashes per second (hashlib over random 200-byte leaves),
MerkleLog append throughput on the memory store (one by one and batched), and
the time to generate and verify inclusion and consistency proofs against the
full log (mean and p99 per call, in µs, over random indexes and sizes).
Targets: >= 200,000 leaf hashes/s; verification <= 50 µs at 1,000,000 leaves.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import pymerkle

from streams.audit.merkle import (
    MemoryNodeStore,
    MerkleLog,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

LEAF_BYTES = 200


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=1_000_000, help="log size (default 1e6)")
    parser.add_argument("--samples", type=int, default=2000, help="proofs per measurement")
    parser.add_argument("--seed", type=int, default=6962, help="seed for indexes and sizes")
    parser.add_argument("--no-pymerkle", action="store_true", help="skip the pymerkle column")
    return parser.parse_args()


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} /s"


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def per_call_us(calls: Sequence[Callable[[], Any]]) -> str:
    """Mean and p99 of the calls' durations, timed one by one."""
    durations = []
    clock = time.perf_counter_ns
    for call in calls:
        start = clock()
        call()
        durations.append(clock() - start)
    durations.sort()
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    return f"mean {statistics.fmean(durations) / 1000:8.1f} µs   p99 {p99 / 1000:8.1f} µs"


def row(label: str, ours: str, theirs: str = "") -> None:
    print(f"{label:<28} {ours:<40} {theirs}")


def bench_hashing(leaves: list[bytes], with_pymerkle: bool) -> list[bytes]:
    hashes: list[bytes] = []
    ours = timed(lambda: hashes.extend(map(leaf_hash, leaves)))
    theirs = ""
    if with_pymerkle:
        hasher = pymerkle.InmemoryTree().hash_buff
        theirs = rate(len(leaves), timed(lambda: list(map(hasher, leaves))))
    row("leaf hashes", rate(len(leaves), ours), theirs)
    return hashes


def bench_appends(
    leaves: list[bytes], with_pymerkle: bool
) -> tuple[MerkleLog, pymerkle.InmemoryTree | None]:
    one_by_one = MerkleLog(MemoryNodeStore())
    seconds = timed(lambda: [one_by_one.append(leaf) for leaf in leaves])
    tree = pymerkle.InmemoryTree() if with_pymerkle else None
    theirs = rate(len(leaves), timed(lambda: [tree.append_entry(x) for x in leaves])) if tree else ""
    row("append (one by one)", rate(len(leaves), seconds), theirs)
    del one_by_one
    gc.collect()
    log = MerkleLog(MemoryNodeStore())
    row("append_many (one batch)", rate(len(leaves), timed(lambda: log.append_many(leaves))))
    assert tree is None or tree.get_root() == log.root()
    return log, tree


def bench_inclusion(
    log: MerkleLog, tree: pymerkle.InmemoryTree | None, hashes: list[bytes], rng: random.Random, samples: int
) -> None:
    size, root = log.size, log.root()
    indexes = [rng.randrange(size) for _ in range(samples)]
    proofs = {index: log.inclusion_proof(index) for index in indexes}
    generate = [lambda i=i: log.inclusion_proof(i) for i in indexes]
    verify = [lambda i=i: verify_inclusion(hashes[i], i, size, proofs[i], root) for i in indexes]
    theirs_generate = theirs_verify = ""
    if tree is not None:
        theirs = {i: tree.prove_inclusion(i + 1) for i in indexes}
        theirs_generate = per_call_us([lambda i=i: tree.prove_inclusion(i + 1) for i in indexes])
        theirs_verify = per_call_us([lambda i=i: theirs[i].verify(hashes[i], root) for i in indexes])
    row("inclusion proof", per_call_us(generate), theirs_generate)
    row("verify_inclusion", per_call_us(verify), theirs_verify)


def bench_consistency(
    log: MerkleLog, tree: pymerkle.InmemoryTree | None, rng: random.Random, samples: int
) -> None:
    size, root = log.size, log.root()
    firsts = [rng.randrange(1, size) for _ in range(samples)]
    roots = {first: log.root(first) for first in firsts}
    proofs = {first: log.consistency_proof(first) for first in firsts}
    generate = [lambda f=f: log.consistency_proof(f) for f in firsts]
    verify = [lambda f=f: verify_consistency(f, size, roots[f], root, proofs[f]) for f in firsts]
    theirs_generate = theirs_verify = ""
    if tree is not None:
        theirs = {f: tree.prove_consistency(f) for f in firsts}
        theirs_generate = per_call_us([lambda f=f: tree.prove_consistency(f) for f in firsts])
        theirs_verify = per_call_us([lambda f=f: theirs[f].verify(roots[f], root) for f in firsts])
    row("consistency proof", per_call_us(generate), theirs_generate)
    row("verify_consistency", per_call_us(verify), theirs_verify)
    row("root(past size)", per_call_us([lambda f=f: log.root(f) for f in firsts]))


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    blob = os.urandom(LEAF_BYTES * args.leaves)
    leaves = [blob[n : n + LEAF_BYTES] for n in range(0, len(blob), LEAF_BYTES)]
    del blob
    print(f"{args.leaves:,} leaves of {LEAF_BYTES} bytes, {args.samples:,} proofs per row")
    row("", "streams.audit.merkle", "" if args.no_pymerkle else "pymerkle 7 InmemoryTree")
    hashes = bench_hashing(leaves, not args.no_pymerkle)
    log, tree = bench_appends(leaves, not args.no_pymerkle)
    bench_inclusion(log, tree, hashes, rng, args.samples)
    bench_consistency(log, tree, rng, args.samples)
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
