"""The committed contracts/build/AuditAnchor.json is what compile.js makes from AuditAnchor.sol."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from streams.anchoring.contract import ARTIFACT_PATH, load_artifact

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"


def running_under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def test_the_committed_artifact_equals_a_fresh_compile_of_the_source() -> None:
    node = shutil.which("node")
    missing = "node is not on PATH" if node is None else None
    if not (CONTRACTS / "node_modules" / "solc").is_dir():
        missing = "contracts/node_modules is missing: run `npm ci --prefix contracts`"
    if missing is not None:
        if running_under_ci():
            pytest.fail(f"{missing} (CI is set, so this cannot be skipped)")
        pytest.skip(missing)
    assert node is not None

    result = subprocess.run(
        [node, "contracts/compile.js", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_artifact_records_the_sha256_of_the_committed_source() -> None:
    # Runs without node: a source edited without recompiling is caught even where the compile test skips.
    source = (CONTRACTS / "AuditAnchor.sol").read_bytes()

    assert load_artifact().source_sha256 == hashlib.sha256(source).hexdigest()


def test_the_artifact_was_built_by_the_solc_that_package_json_pins() -> None:
    pinned = json.loads((CONTRACTS / "package.json").read_text())["dependencies"]["solc"]
    locked = json.loads((CONTRACTS / "package-lock.json").read_text())["packages"]["node_modules/solc"]["version"]
    artifact = load_artifact()

    assert locked == pinned
    assert artifact.compiler_version.startswith(f"{pinned}+commit.")
    assert f"pragma solidity {pinned};" in (CONTRACTS / "AuditAnchor.sol").read_text()
    # eth-tester (py-evm prague), hardhat@2 and the target chains all run cancun.
    assert artifact.evm_version == "cancun"
    assert ARTIFACT_PATH == CONTRACTS / "build" / "AuditAnchor.json"
