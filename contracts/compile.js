// Compiles PayoutBatch.sol with the pinned solc (npm solc@0.8.28, optimizer on, 200 runs) and
// writes its creation bytecode to PayoutBatch.bin; with --check, compares instead and exits 1 on
// a difference. solc is looked up in node_modules or NODE_PATH (.ci/run installs it into
// ~/.cache/payouts-solc).
const fs = require("fs");
const path = require("path");
const solc = require("solc");
const source = fs.readFileSync(path.join(__dirname, "PayoutBatch.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "PayoutBatch.sol": { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of output.errors || []) if (e.severity === "error") throw new Error(e.formattedMessage);
const bin = output.contracts["PayoutBatch.sol"].PayoutBatch.evm.bytecode.object + "\n";
const file = path.join(__dirname, "PayoutBatch.bin");
if (process.argv.includes("--check")) {
  const committed = fs.readFileSync(file, "utf8");
  if (committed !== bin) {
    console.error(`PayoutBatch.bin differs from what solc ${solc.version()} makes of PayoutBatch.sol`);
    process.exit(1);
  }
  console.log(`PayoutBatch.bin matches PayoutBatch.sol (solc ${solc.version()})`);
} else {
  fs.writeFileSync(file, bin);
  console.log(`PayoutBatch.bin: ${(bin.length - 1) / 2} bytes (solc ${solc.version()})`);
}
