#!/usr/bin/env node
// Compile AuditAnchor.sol with the pinned solc-js into build/AuditAnchor.json.
//
//   node compile.js           write the artifact
//   node compile.js --check   recompile and exit 1 if the committed artifact differs
//
// Every setting that changes the bytecode is pinned here, so the same source and compiler give the
// same artifact on any machine.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const CONTRACT = "AuditAnchor";
const SOURCE_PATH = path.join(__dirname, `${CONTRACT}.sol`);
const ARTIFACT_PATH = path.join(__dirname, "build", `${CONTRACT}.json`);

// cancun: run by py-evm (eth-tester defaults to prague), hardhat@2 (defaults to osaka) and the major
// EVM chains. solc-js 0.8.37 defaults to osaka, which older chains do not run, so it is set explicitly.
const EVM_VERSION = "cancun";
const OPTIMIZER = { enabled: true, runs: 200 };
// "none" drops the IPFS hash of the metadata (which covers comments and file paths) from the bytecode;
// the CBOR trailer still records the compiler version.
const BYTECODE_HASH = "none";

function loadSolc() {
  let solc;
  try {
    solc = require("solc");
  } catch (err) {
    fail(`solc-js is not installed (${err.code}): run \`npm ci --prefix contracts\``);
  }
  // A stale node_modules would silently produce other bytecode: insist on the pinned version.
  const pinned = require("./package.json").dependencies.solc;
  const version = solc.version();
  if (!version.startsWith(`${pinned}+`)) {
    fail(`solc-js ${version} is installed, package.json pins ${pinned}: run \`npm ci --prefix contracts\``);
  }
  return solc;
}

function compile(solc, source) {
  const input = {
    language: "Solidity",
    sources: { [`${CONTRACT}.sol`]: { content: source } },
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: OPTIMIZER,
      metadata: { bytecodeHash: BYTECODE_HASH },
      outputSelection: {
        [`${CONTRACT}.sol`]: { [CONTRACT]: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  // Warnings fail the build too: the contract is small enough to keep the compiler silent.
  const problems = output.errors || [];
  if (problems.length > 0) {
    fail(problems.map((e) => e.formattedMessage || e.message).join("\n"));
  }
  return output.contracts[`${CONTRACT}.sol`][CONTRACT];
}

function buildArtifact(solc, sourceBytes) {
  const contract = compile(solc, sourceBytes.toString("utf8"));
  return {
    contractName: CONTRACT,
    compiler: {
      version: solc.version().replace(/\.Emscripten\.clang$/, ""),
      evmVersion: EVM_VERSION,
      optimizer: OPTIMIZER,
      bytecodeHash: BYTECODE_HASH,
    },
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
    sourceSha256: crypto.createHash("sha256").update(sourceBytes).digest("hex"),
  };
}

function serialize(artifact) {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

/** Leaf paths whose values differ (e.g. `compiler.optimizer.runs: 201 != 200`), described for a human. */
function differences(committed, fresh, at = "") {
  const isObject = (v) => v !== null && typeof v === "object";
  if (isObject(committed) && isObject(fresh) && Array.isArray(committed) === Array.isArray(fresh)) {
    const keys = new Set([...Object.keys(committed), ...Object.keys(fresh)]);
    return [...keys].flatMap((k) => differences(committed[k], fresh[k], at ? `${at}.${k}` : k));
  }
  if (JSON.stringify(committed) === JSON.stringify(fresh)) return [];
  if (typeof committed === "string" && typeof fresh === "string" && committed.length > 80) {
    // Bytecode: say where it starts to differ rather than print kilobytes of hex.
    let i = 0;
    while (committed[i] === fresh[i]) i++;
    return [`  ${at}: first differs at character ${i} (lengths ${committed.length} vs ${fresh.length})`];
  }
  const show = (v) => (v === undefined ? "(missing)" : JSON.stringify(v));
  return [`  ${at}: committed ${show(committed)}, fresh ${show(fresh)}`];
}

function check(fresh) {
  const rel = path.relative(process.cwd(), ARTIFACT_PATH);
  if (!fs.existsSync(ARTIFACT_PATH)) fail(`${rel} is missing: run \`node contracts/compile.js\``);
  const text = fs.readFileSync(ARTIFACT_PATH, "utf8");
  if (text === serialize(fresh)) {
    console.log(`${rel} matches a fresh compile (${fresh.compiler.version}, ${fresh.compiler.evmVersion})`);
    return;
  }
  let committed;
  try {
    committed = JSON.parse(text);
  } catch (err) {
    fail(`${rel} is not valid JSON: ${err.message}`);
  }
  const diffs = differences(committed, fresh).slice(0, 20);
  // Same content but other formatting still fails: the file must be exactly what compile.js writes.
  const detail = diffs.length > 0 ? diffs.join("\n") : "  (formatting only)";
  fail(`${rel} differs from a fresh compile:\n${detail}\nrun \`node contracts/compile.js\` and commit the result`);
}

function fail(message) {
  console.error(`compile.js: ${message}`);
  process.exit(1);
}

function main(argv) {
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) fail(`unknown arguments: ${unknown.join(" ")} (usage: compile.js [--check])`);
  const solc = loadSolc();
  // Hash the bytes on disk, not a decoded string, so sourceSha256 equals `sha256sum AuditAnchor.sol`.
  const artifact = buildArtifact(solc, fs.readFileSync(SOURCE_PATH));
  if (argv.includes("--check")) {
    check(artifact);
    return;
  }
  fs.mkdirSync(path.dirname(ARTIFACT_PATH), { recursive: true });
  fs.writeFileSync(ARTIFACT_PATH, serialize(artifact));
  console.log(`wrote ${path.relative(process.cwd(), ARTIFACT_PATH)} (${artifact.compiler.version}, ${EVM_VERSION})`);
}

main(process.argv.slice(2));
