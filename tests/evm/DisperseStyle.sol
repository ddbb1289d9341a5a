// SPDX-License-Identifier: MIT
// The way Disperse pays token rows, written here as a yardstick for the gas benchmark
// (benches/evm_gas.rs): the total pulled once with `transferFrom`, then one `transfer` per row
// from two arrays, each answer required to be true. Not used by the product.
// Compiled with solc 0.8.28 (npm package `solc`), optimizer on, 200 runs: tests/evm/compile.js.
pragma solidity 0.8.28;

interface IToken {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

contract DisperseStyle {
    function disperseToken(IToken token, address[] calldata recipients, uint256[] calldata values) external {
        uint256 total;
        for (uint256 i; i < recipients.length; i++) total += values[i];
        require(token.transferFrom(msg.sender, address(this), total));
        for (uint256 i; i < recipients.length; i++) require(token.transfer(recipients[i], values[i]));
    }
}
