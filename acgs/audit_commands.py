"""The ``acgs audit ...`` and ``acgs replay`` commands (kept out of cli.py, which only declares them)."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from acgs.settings import Settings

err = Console(stderr=True, soft_wrap=True)  # findings stay one line each, greppable


def parse_time(text: str) -> int:
    """Unix milliseconds, or an ISO 8601 time (UTC when it names no zone), as unix milliseconds."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither unix milliseconds nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _verifier_key(settings: Settings, given: str | None, origin: str | None):  # noqa: ANN202
    from streams.audit.auditor import VerifierKey
    from streams.audit.exceptions import InvalidKeyError
    from streams.audit.keys import log_verifier_key, read_verifier_key

    if given is None:
        secret = settings.audit_signing_key.get_secret_value() if settings.audit_signing_key else None
        given = log_verifier_key(settings.audit_origin, settings.audit_verifier_key, secret, settings.state_dir)
        if given is None:
            err.print("[red]error:[/] no verifier key: pass --public-key (name+id+base64, or a file holding it)")
            raise typer.Exit(2)
        err.print(f"verifier key (this stack's): {given}")
    try:
        name, public = read_verifier_key(given)
    except (InvalidKeyError, OSError) as exc:
        err.print(f"[red]error:[/] --public-key: {exc}")
        raise typer.Exit(2) from None
    return VerifierKey(origin or name, name, public)


def _chain(settings: Settings, rpc_url: str | None, contract: str | None):  # noqa: ANN202
    from streams.anchoring.app import web3_for
    from streams.anchoring.contract import AuditAnchorContract
    from streams.anchoring.deployment import public_rpc_url, read_deployment
    from streams.audit.auditor import ContractAnchors

    rpc_url = rpc_url or settings.eth_rpc
    if contract is None:
        contract = settings.anchor_contract_address
        deployment = read_deployment(settings.state_dir)
        if contract is None and deployment is not None:
            contract = deployment.contract_address
    if contract is None:
        err.print("[red]error:[/] no anchor contract: pass --contract")
        raise typer.Exit(2)
    err.print(f"chain: {public_rpc_url(rpc_url)}, contract {contract}")
    try:
        return ContractAnchors(AuditAnchorContract.at(web3_for(rpc_url, 10.0), contract))
    except Exception as exc:  # noqa: BLE001 - unreachable chain or no code: the audit cannot pass
        err.print(f"[red]error:[/] chain: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


class _Bar:
    """Progress callback drawing one rich bar per stage."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=err)
        self._tasks: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self.progress.add_task(stage, total=max(total, 1))
        self.progress.update(self._tasks[stage], completed=done, total=max(total, 1))


def verify(settings: Settings, bootstrap: str | None, rpc_url: str | None, contract: str | None,
           public_key: str | None, origin: str | None, logs_topic: str, checkpoints_topic: str) -> int:
    from streams.audit.auditor import Auditor
    from streams.audit.kafka_source import KafkaLogSource

    key = _verifier_key(settings, public_key, origin)
    chain = _chain(settings, rpc_url, contract)
    source = KafkaLogSource(bootstrap or settings.kafka_bootstrap, logs_topic, checkpoints_topic)
    bar = _Bar()
    with bar.progress:
        report = Auditor(source, chain, key, progress=bar).run()
    source.close()
    table = Table(title=f"audit of {key.origin}", show_header=False)
    for name, value in (("leaves", report.leaves), ("signed checkpoints", report.checkpoints),
                        ("source events re-read", report.source_records), ("re-deliveries", report.redeliveries),
                        ("anchors on chain", report.anchors), ("anchored up to size", report.anchored_size)):
        table.add_row(name, f"{value:,}")
    err.print(table)
    for finding in report.findings:
        err.print(f"[red]FAIL[/] {finding.code}: {finding.message}")
    if report.ok:
        err.print("[green]verified[/]: every leaf recomputed from Kafka, every checkpoint signed and consistent, "
                  "every anchor on chain matches")
        return 0
    err.print(f"[red]{len(report.findings)} finding(s)[/]")
    return 1


def seal(settings: Settings, timeout_s: float) -> int:
    from query_api.audit_service import AuditService
    from query_api.exceptions import QueryError

    service = AuditService(settings)
    service.open()
    try:
        checkpoint, created = service.seal(timeout_s)
    except QueryError as exc:
        err.print(f"[red]error:[/] {exc.code}: {exc.message}")
        return 1
    finally:
        service.close()
    err.print(f"{'sealed' if created else 'already sealed'}: tree size {checkpoint['tree_size']}")
    sys.stdout.write(checkpoint["note"])
    return 0


def show_public_key(settings: Settings) -> int:
    from streams.audit.keys import log_verifier_key

    secret = settings.audit_signing_key.get_secret_value() if settings.audit_signing_key else None
    vkey = log_verifier_key(settings.audit_origin, settings.audit_verifier_key, secret, settings.state_dir)
    if vkey is None:
        err.print("[red]error:[/] no checkpoint key yet (start the stack once, or set ACGS_AUDIT_SIGNING_KEY)")
        return 1
    print(vkey)
    return 0


def replay(settings: Settings, topics: list[str] | None, from_offset: int | None, from_time: str | None,
           to_time: str | None, check: bool, bootstrap: str | None, rpc_url: str | None, contract: str | None,
           public_key: str | None) -> int:
    from streams.audit.kafka_source import KafkaLogSource
    from streams.audit.replay import ReplayError, load_anchored_log
    from streams.audit.replay import replay as run_replay

    source = KafkaLogSource(bootstrap or settings.kafka_bootstrap)
    anchored = None
    if check:
        key = _verifier_key(settings, public_key, None)
        try:
            anchored = load_anchored_log(source, _chain(settings, rpc_url, contract), key)
        except ReplayError as exc:
            err.print(f"[red]error:[/] {exc}")
            return 1
        err.print(f"verifying against the anchored tree of size {anchored.tree_size}, root {anchored.root_hash.hex()}")
    ranges = _ranges(source, topics or list(settings.audit_topics), from_offset,
                     parse_time(from_time) if from_time else None, parse_time(to_time) if to_time else None)
    statuses: Counter[str] = Counter()
    out = sys.stdout.buffer
    for line in run_replay(source, ranges, anchored):
        statuses[line["verification"]["status"]] += 1
        out.write(orjson.dumps(line) + b"\n")
    out.flush()
    source.close()
    err.print("replayed " + (", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "nothing"))
    return 0 if not check or set(statuses) <= {"verified"} else 1


def _ranges(source, topics: list[str], from_offset: int | None, from_ms: int | None,  # noqa: ANN001
            to_ms: int | None) -> list[tuple[str, int, int, int]]:
    ranges = []
    for topic in topics:
        for partition in source.partitions(topic):
            low, high = source.watermarks(topic, partition)
            start = low
            if from_offset is not None:
                start = max(low, from_offset)
            elif from_ms is not None:
                start = source.offset_for_time(topic, partition, from_ms)
            end = source.offset_for_time(topic, partition, to_ms) if to_ms is not None else high
            ranges.append((topic, partition, start, min(end, high)))
    return ranges
