// Hardhat@2 is used only as a local JSON-RPC chain (`hardhat node`) to check that build/AuditAnchor.json
// deploys on a real node; compile.js, not hardhat, compiles the contract (no `solidity` block, so hardhat
// never downloads a compiler).
"use strict";

const path = require("node:path");

// Keep hardhat's working folders out of the source tree (node_modules is gitignored).
const scratch = path.join(__dirname, "node_modules", ".hardhat");

module.exports = {
  defaultNetwork: "hardhat",
  networks: {
    hardhat: {
      chainId: 31337,
      // Pinned rather than left to the hardhat default (osaka in 2.29) so the node runs what
      // compile.js targets.
      hardfork: "cancun",
    },
  },
  paths: {
    sources: path.join(scratch, "sources"),
    cache: path.join(scratch, "cache"),
    artifacts: path.join(scratch, "artifacts"),
  },
};
