// Recompiles the test contracts (TestToken.sol, LeanToken.sol, AsmToken.sol, OddTokens.sol, DisperseStyle.sol) into one
// .bin file of creation bytecode (hex) per contract:
//   npm install solc@0.8.28 && node tests/evm/compile.js
const fs = require("fs");
const path = require("path");
const solc = require("solc");
const files = ["TestToken.sol", "LeanToken.sol", "AsmToken.sol", "OddTokens.sol", "DisperseStyle.sol"];
const sources = {};
for (const f of files) sources[f] = { content: fs.readFileSync(path.join(__dirname, f), "utf8") };
const input = {
  language: "Solidity",
  sources,
  settings: { optimizer: { enabled: true, runs: 200 }, outputSelection: { "*": { "*": ["evm.bytecode.object"] } } },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of output.errors || []) if (e.severity === "error") throw new Error(e.formattedMessage);
for (const f of files) {
  for (const [name, contract] of Object.entries(output.contracts[f])) {
    const bin = contract.evm.bytecode.object;
    if (!bin) continue; // abstract or interface
    fs.writeFileSync(path.join(__dirname, `${name}.bin`), bin + "\n");
    console.log(`${name}.bin: ${bin.length / 2} bytes (solc ${solc.version()})`);
  }
}
