// SPDX-License-Identifier: MIT
// An ERC-20 whose transfers are written in assembly: each balance in a slot hashed from its holder
// and a constant, one comparison where solc would check the arithmetic, the answer returned from
// scratch memory. Solady's ERC20, the token the published airdrop benchmarks ran on
// (airdrop-gas-benchmarks' Mock_ERC20), is written this way; the gas benchmark
// (benches/evm_gas.rs) pays rows of it so that the batch contract's figure compares with theirs.
// Compiled with solc 0.8.28 (npm package `solc`), optimizer on, 200 runs: tests/evm/compile.js.
pragma solidity 0.8.28;

contract AsmToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    // keccak256("Transfer(address,address,uint256)")
    bytes32 private constant TRANSFER = 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef;
    // Hashed after the holder ("balances") or the owner and spender ("allowances").
    uint256 private constant BALANCES = 0x62616c616e636573;
    uint256 private constant ALLOWANCES = 0x616c6c6f77616e636573;

    uint256 public totalSupply;

    constructor(uint256 supply) {
        totalSupply = supply;
        assembly {
            mstore(0x00, caller())
            mstore(0x20, BALANCES)
            sstore(keccak256(0x00, 0x40), supply)
        }
        emit Transfer(address(0), msg.sender, supply);
    }

    function balanceOf(address owner) external view returns (uint256 held) {
        assembly {
            mstore(0x00, owner)
            mstore(0x20, BALANCES)
            held := sload(keccak256(0x00, 0x40))
        }
    }

    function allowance(address owner, address spender) external view returns (uint256 allowed) {
        assembly {
            let free := mload(0x40)
            mstore(0x00, owner)
            mstore(0x20, spender)
            mstore(0x40, ALLOWANCES)
            allowed := sload(keccak256(0x00, 0x60))
            mstore(0x40, free)
        }
    }

    function approve(address spender, uint256 value) external returns (bool) {
        assembly {
            let free := mload(0x40)
            mstore(0x00, caller())
            mstore(0x20, spender)
            mstore(0x40, ALLOWANCES)
            sstore(keccak256(0x00, 0x60), value)
            mstore(0x40, free)
        }
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        assembly {
            mstore(0x00, caller())
            mstore(0x20, BALANCES)
            let slot := keccak256(0x00, 0x40)
            let held := sload(slot)
            if gt(value, held) { revert(0x00, 0x00) }
            sstore(slot, sub(held, value))
            mstore(0x00, to)
            slot := keccak256(0x00, 0x40)
            // No overflow: no balance exceeds the supply.
            sstore(slot, add(sload(slot), value))
            mstore(0x20, value)
            log3(0x20, 0x20, TRANSFER, caller(), to)
            mstore(0x00, 1)
            return(0x00, 0x20)
        }
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        assembly {
            let free := mload(0x40)
            mstore(0x00, from)
            mstore(0x20, caller())
            mstore(0x40, ALLOWANCES)
            let slot := keccak256(0x00, 0x60)
            mstore(0x40, free)
            let allowed := sload(slot)
            // An allowance of 2^256 - 1 is never spent down.
            if iszero(eq(allowed, not(0))) {
                if gt(value, allowed) { revert(0x00, 0x00) }
                sstore(slot, sub(allowed, value))
            }
            mstore(0x20, BALANCES)
            slot := keccak256(0x00, 0x40)
            let held := sload(slot)
            if gt(value, held) { revert(0x00, 0x00) }
            sstore(slot, sub(held, value))
            mstore(0x00, to)
            slot := keccak256(0x00, 0x40)
            sstore(slot, add(sload(slot), value))
            mstore(0x20, value)
            log3(0x20, 0x20, TRANSFER, from, to)
            mstore(0x00, 1)
            return(0x00, 0x20)
        }
    }
}
