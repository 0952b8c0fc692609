"""Where the AuditAnchor contract of a stack lives: recorded once in the state directory after deploying."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

DEPLOYMENT_FILE = Path("chain") / "anchor-contract.json"


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    contract_address: str
    rpc_url: str  # as shown to outsiders (credentials stripped)
    deployed_block: int


def deployment_path(state_dir: Path) -> Path:
    return state_dir / DEPLOYMENT_FILE


def read_deployment(state_dir: Path) -> Deployment | None:
    path = deployment_path(state_dir)
    if not path.exists():
        return None
    return Deployment(**json.loads(path.read_text()))


def write_deployment(state_dir: Path, deployment: Deployment) -> None:
    path = deployment_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(deployment), indent=2))
    tmp.replace(path)


def public_rpc_url(url: str) -> str:
    """``url`` without user:password or query string, which commonly carry provider API keys."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
