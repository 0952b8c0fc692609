"""A local EVM chain (hardhat@2 ``hardhat node``) and the AuditAnchor contract deployed on it once.

Hardhat keeps its chain in memory: a restarted node is a fresh chain, on which the contract is deployed again
(for anchors that outlive restarts, point ``ETH_RPC_URL`` at a persistent node). Readiness is a real
``eth_chainId`` answer. With ``ETH_RPC_URL`` set nothing is started; the contract is deployed there only if no
``ANCHOR_CONTRACT_ADDRESS`` is given and none was recorded for that chain.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from acgs.settings import Settings
from infra.exceptions import StackError
from infra.process import require_free_port, spawn, stop_process, wait_until

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
HARDHAT = CONTRACTS_DIR / "node_modules" / ".bin" / "hardhat"


def rpc(url: str, method: str, params: list | None = None, timeout_s: float = 2.0) -> object:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
                        timeout=timeout_s)
    answer.raise_for_status()
    body = answer.json()
    if "error" in body:
        raise StackError(f"chain {url}: {method} failed: {body['error']}")
    return body["result"]


def chain_id_of(url: str) -> int:
    return int(str(rpc(url, "eth_chainId")), 16)


@dataclass
class ChainServer:
    """hardhat@2 node on 127.0.0.1:``port`` (chain id 31337), optionally mining a block every interval."""

    state_dir: Path
    port: int
    block_interval_ms: int = 1000
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "chain.log"

    def start(self, timeout_s: float = 60.0) -> None:
        if shutil.which("node") is None:
            raise StackError("chain: Node.js is required for the local chain (apt-get install nodejs npm)")
        if not HARDHAT.exists():
            raise StackError(f"chain: {HARDHAT} is missing; run `npm ci --prefix contracts` (make install does)")
        require_free_port(self.port, "chain (hardhat)")
        # Run hardhat itself, not through npx/npm, so SIGTERM to its process group reaches the node.
        self.proc = spawn([str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(self.port)],
                          self.log_path, cwd=CONTRACTS_DIR)
        wait_until(lambda: chain_id_of(self.url) > 0, timeout_s, f"chain on {self.url}", self.proc, self.log_path)
        if self.block_interval_ms:
            # Blocks also come on a timer, so waiting for N confirmations terminates on a quiet chain.
            rpc(self.url, "evm_setIntervalMining", [self.block_interval_ms])

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


def ensure_contract(settings: Settings) -> dict[str, str]:
    """Make sure an AuditAnchor contract is deployed; return the environment that points workers at it."""
    from streams.anchoring.app import web3_for
    from streams.anchoring.contract import AuditAnchorContract
    from streams.anchoring.deployment import Deployment, public_rpc_url, read_deployment, write_deployment

    w3 = web3_for(settings.eth_rpc, settings.anchor_rpc_timeout_s)
    chain_id = w3.eth.chain_id
    if chain_id != settings.eth_chain_id:
        raise StackError(f"chain {public_rpc_url(settings.eth_rpc)} has chain id {chain_id}, "
                         f"configured ETH_CHAIN_ID is {settings.eth_chain_id}")
    address = settings.anchor_contract_address
    if address:
        if not w3.eth.get_code(w3.to_checksum_address(address)):
            raise StackError(f"ANCHOR_CONTRACT_ADDRESS {address} holds no contract on chain {chain_id}")
        return {"ANCHOR_CONTRACT_ADDRESS": address}
    recorded = read_deployment(settings.state_dir)
    if recorded is not None and recorded.chain_id == chain_id and w3.eth.get_code(recorded.contract_address):
        return {"ANCHOR_CONTRACT_ADDRESS": recorded.contract_address}
    key = settings.anchor_signing_key
    if key is None:
        raise StackError("no AuditAnchor contract and no key to deploy one: set ETH_PRIVATE_KEY "
                         "(or ANCHOR_CONTRACT_ADDRESS)")
    from eth_account import Account

    contract = AuditAnchorContract.deploy(w3, Account.from_key(key))
    write_deployment(settings.state_dir, Deployment(chain_id, contract.address, public_rpc_url(settings.eth_rpc),
                                                    w3.eth.block_number))
    return {"ANCHOR_CONTRACT_ADDRESS": contract.address}
