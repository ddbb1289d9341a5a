// Recompiles TestToken.sol into TestToken.bin (creation bytecode, hex):
//   npm install solc@0.8.28 && node tests/evm/compile.js
const fs = require("fs");
const path = require("path");
const solc = require("solc");
const source = fs.readFileSync(path.join(__dirname, "TestToken.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "TestToken.sol": { content: source } },
  settings: { optimizer: { enabled: true, runs: 200 }, outputSelection: { "*": { "*": ["evm.bytecode.object"] } } },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of output.errors || []) if (e.severity === "error") throw new Error(e.formattedMessage);
const bin = output.contracts["TestToken.sol"].TestToken.evm.bytecode.object;
fs.writeFileSync(path.join(__dirname, "TestToken.bin"), bin + "\n");
console.log(`TestToken.bin: ${bin.length / 2} bytes (solc ${solc.version()})`);
