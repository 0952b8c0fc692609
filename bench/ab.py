"""``python -m bench.ab``: one component of the platform at two or more git revisions, on one warm bench stack.

This machine's speed moves by 30% and more within minutes, so two ``make bench`` runs one after the other
cannot tell a 5-10% change from the machine. Here one stack (``.state/bench``, the ports of ``bench.run``) is
started and warmed up once; then, round after round, the component is restarted from each revision in turn
(a git worktree under ``.state/ab``; ``.`` is the working tree) and measured with the same fixed-rate run as
``make bench`` (open loop, after unmeasured seconds at the same rate that also absorb the restart). Every
other process stays as it is, so each pair of neighbouring runs shares the machine's state of the moment.

Only the component comes from each revision: the stack, its migrations and this driver are the working tree's,
so revisions whose component needs another schema or topic layout cannot be compared this way.

Each run reports intake and read-model latency, the latency split by stage and CPU per command by process;
the gateway's CPU per command (a process no variant touches) is the yardstick of the machine's speed in that
run, and the summary gives each variant's median over the rounds, absolute and relative to it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from acgs.settings import REPO_ROOT
from bench.loadgen import openloop_binary, wrk
from bench.run import RESULTS, _drained, bench_settings, fixed_rate
from infra.process import interrupt_on_sigterm, wait_until
from infra.supervisor import COMPONENTS, Platform

WORKTREES = REPO_ROOT / ".state" / "ab"
YARDSTICK = "gateway"
SWAPPABLE = sorted(set(COMPONENTS) - {"gateway"})  # the gateway is the yardstick, and serves the load


def checkout(rev: str) -> Path:
    """The code of ``rev``: the working tree for ``.``, else a detached worktree of that commit (reused)."""
    if rev == ".":
        return REPO_ROOT
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO_ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    tree = WORKTREES / sha[:12]
    if not tree.exists():
        # A worktree whose folder went with `make clean` is still registered until pruned.
        subprocess.run(["git", "worktree", "prune"], cwd=REPO_ROOT, check=True, capture_output=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=REPO_ROOT, check=True,
                       capture_output=True)
    return tree


def variants_of(revs: list[str]) -> list[tuple[str, Path]]:
    """(label, code) per ``--rev``, in order. The same revision twice is an A/A run, how far apart two runs
    of the same code land on this machine: its labels get ``#1``, ``#2``..."""
    return [(rev if revs.count(rev) == 1 else f"{rev}#{n}", checkout(rev)) for n, rev in enumerate(revs, start=1)]


@contextlib.contextmanager
def _fail_fast_if_it_exits(proc: subprocess.Popen, what: str, log: Path) -> Iterator[None]:
    """A component that exits (a revision that cannot run here) interrupts the run at once, instead of the
    drain waiting its 15 minutes for a pipeline with nothing left to drain it."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            if proc.poll() is not None:
                print(f"{what} exited with code {proc.returncode}; its log: {log}", file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGTERM)  # KeyboardInterrupt in the main thread: the stack stops
                return

    watcher = threading.Thread(target=watch, name="component-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def run_line(result: dict) -> dict:
    """The figures of one fixed-rate run that the comparison needs."""
    cpu = result["cpu_us_per_command"]
    return {"intake_p50_ms": result["intake_p50_ms"], "intake_p99_ms": result["intake_p99_ms"],
            "read_model_p50_ms": result["read_model_p50_ms"], "read_model_p99_ms": result["read_model_p99_ms"],
            "stages": {name: [v["p50_ms"], v["p99_ms"]] for name, v in result["stages"].items()},
            "cpu_us_per_command": cpu, "errors": result["errors"], "never_visible": result["never_visible"]}


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def summarize(runs: list[dict], component: str) -> dict[str, dict]:
    """Per variant, the median over its rounds of each latency, of CPU per command in all and of the swapped
    component, and of both relative to the yardstick process's CPU in the same run."""
    by_variant: dict[str, list[dict]] = {}
    for run in runs:
        by_variant.setdefault(run["variant"], []).append(run)
    summary = {}
    for variant, rounds in by_variant.items():
        cpu = [r["cpu_us_per_command"] for r in rounds]
        yardstick = [c.get(YARDSTICK) or float("nan") for c in cpu]
        summary[variant] = {
            "rounds": len(rounds),
            **{key: _median([r[key] for r in rounds]) for key in
               ("intake_p50_ms", "intake_p99_ms", "read_model_p50_ms", "read_model_p99_ms")},
            "cpu_total_us": _median([c["total"] for c in cpu]),
            f"cpu_{component}_us": _median([c.get(component, 0.0) for c in cpu]),
            "cpu_total_per_yardstick": _median([c["total"] / y for c, y in zip(cpu, yardstick, strict=True)]),
            f"cpu_{component}_per_yardstick": _median([c.get(component, 0.0) / y
                                                       for c, y in zip(cpu, yardstick, strict=True)]),
        }
    return summary


def report(summary: dict[str, dict], component: str) -> str:
    lines = [f"| variant | rounds | intake P50 / P99 ms | read model P50 / P99 ms | CPU µs/command (all) | "
             f"{component} µs/command | all / {YARDSTICK} | {component} / {YARDSTICK} |", "|---" * 8 + "|"]
    for variant, s in summary.items():
        lines.append(f"| {variant} | {s['rounds']} | {s['intake_p50_ms']:.1f} / {s['intake_p99_ms']:.1f} | "
                     f"{s['read_model_p50_ms']:.1f} / {s['read_model_p99_ms']:.1f} | {s['cpu_total_us']:,.0f} | "
                     f"{s[f'cpu_{component}_us']:,.0f} | {s['cpu_total_per_yardstick']:.2f} | "
                     f"{s[f'cpu_{component}_per_yardstick']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--component", choices=SWAPPABLE, default="gate", help="what to swap (default gate)")
    parser.add_argument("--rev", action="append", required=True,
                        help="a git revision to run the component from ('.' = the working tree); twice or more")
    parser.add_argument("--rounds", type=int, default=3, help="runs per revision, interleaved (default 3)")
    parser.add_argument("--rate", type=int, default=1000, help="commands/s of each run (default 1000)")
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run (default 10)")
    parser.add_argument("--rate-warmup-seconds", type=int, default=8,
                        help="unmeasured seconds at the rate before each run; they also absorb the restart "
                             "(default 8)")
    parser.add_argument("--warmup-seconds", type=int, default=15, help="closed-loop warm-up of the stack (default 15)")
    parser.add_argument("--content-bytes", type=int, default=200, help="message content size (default 200)")
    args = parser.parse_args(argv)
    if len(args.rev) < 2:
        parser.error("give --rev at least twice")

    variants = variants_of(args.rev)
    settings = bench_settings()
    openloop_binary()
    if settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)
    interrupt_on_sigterm()  # a terminated run still stops its stack
    platform = Platform(settings)
    platform.start()
    runs: list[dict] = []
    component_group = " ".join(COMPONENTS[args.component][2:])  # how bench.cpu names its process ("worker gate")
    try:
        url = f"{settings.gateway_url}/api/v1/messages/send"
        print(f"warming up the stack ({args.warmup_seconds}s of wrk)...", flush=True)
        wrk(url, args.warmup_seconds, 64, content_bytes=args.content_bytes)
        wait_until(lambda: _drained(settings), 900, "pipeline drained after warm-up")
        for round_ in range(args.rounds):
            for rev, tree in variants:
                platform.stop_component(args.component)
                proc = platform.start_component(args.component, code_dir=tree)
                with _fail_fast_if_it_exits(proc, f"{args.component} from {rev}", platform.log_path(args.component)):
                    result = fixed_rate(settings, args.rate, args.seconds, args.content_bytes,
                                        args.rate_warmup_seconds)
                run = {"variant": rev, "round": round_, **run_line(result)}
                runs.append(run)
                cpu = run["cpu_us_per_command"]
                print(f"round {round_} {rev}: intake {run['intake_p50_ms']:.1f} / {run['intake_p99_ms']:.1f} ms, "
                      f"read model {run['read_model_p50_ms']:.1f} / {run['read_model_p99_ms']:.1f} ms, CPU "
                      f"{cpu['total']:,.0f} µs/command ({component_group} {cpu.get(component_group, 0):,.0f}, "
                      f"{YARDSTICK} {cpu.get(YARDSTICK, 0):,.0f})", flush=True)
    finally:
        platform.stop()
    summary = summarize(runs, component_group)
    print(report(summary, component_group))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ab-latest.json").write_text(json.dumps({"args": vars(args), "runs": runs, "summary": summary},
                                                       indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
