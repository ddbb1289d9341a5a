// SPDX-License-Identifier: MIT
// Tokens that answer `transfer` and `transferFrom` the two other ways real tokens do, for the
// batch contract's tests: USDT's way (nothing at all, reverting on failure) and a token that
// answers `false` instead of reverting (the batch contract must treat that as a failure).
// Compiled with solc 0.8.28 (npm package `solc`), optimizer on, 200 runs: tests/evm/compile.js.
pragma solidity 0.8.28;

abstract contract Ledger {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    /// A recipient this token refuses: the way a frozen account is refused.
    address public blocked;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply, address refused) {
        balanceOf[msg.sender] = supply;
        blocked = refused;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        return true;
    }

    /// Moves `value` when it may; false when it may not.
    function _move(address from, address to, uint256 value) internal returns (bool) {
        if (to == blocked || balanceOf[from] < value) return false;
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        return true;
    }

    function _spend(address from, uint256 value) internal returns (bool) {
        if (allowance[from][msg.sender] < value) return false;
        allowance[from][msg.sender] -= value;
        return true;
    }
}

/// Answers nothing; reverts when it cannot move the tokens (USDT on Ethereum).
contract SilentToken is Ledger {
    constructor(uint256 supply, address refused) Ledger(supply, refused) {}

    function transfer(address to, uint256 value) external {
        require(_move(msg.sender, to, value), "refused");
    }

    function transferFrom(address from, address to, uint256 value) external {
        require(_spend(from, value) && _move(from, to, value), "refused");
    }
}

/// Answers false, without reverting, when it cannot move the tokens.
contract FalseToken is Ledger {
    constructor(uint256 supply, address refused) Ledger(supply, refused) {}

    function transfer(address to, uint256 value) external returns (bool) {
        return _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        return _spend(from, value) && _move(from, to, value);
    }
}
