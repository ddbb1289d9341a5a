// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title PayoutBatch
/// @notice Pays many recipients in one transaction, from the caller: ether sent with the call,
/// or tokens the caller has approved this contract to move. It holds nothing between calls and
/// has no owner: a caller can only spend its own ether and its own allowance.
/// @dev One failing row reverts the whole call, so the sender simulates each row first.
contract PayoutBatch {
    /// @notice One per ether row paid, in row order; `row` is the row's index in the call. Token
    /// rows need no event of their own: the token logs a Transfer from this contract per row, in
    /// row order.
    event Paid(uint256 indexed row, address indexed to, uint256 amount);

    error LengthMismatch();
    error ValueMismatch(uint256 total, uint256 sent);
    error NotAContract(address token);
    error EtherTransferFailed(uint256 row);
    error TokenTransferFailed(uint256 row);
    error TotalMismatch(uint256 total, uint256 paid);

    /// @notice Sends `amounts[i]` wei to `to[i]`; the call's value must be their exact sum.
    function payEther(address[] calldata to, uint256[] calldata amounts) external payable {
        if (to.length != amounts.length) revert LengthMismatch();
        uint256 total;
        for (uint256 i; i < amounts.length; ++i) {
            total += amounts[i];
        }
        if (total != msg.value) revert ValueMismatch(total, msg.value);
        for (uint256 i; i < to.length; ++i) {
            (bool ok,) = to[i].call{value: amounts[i]}("");
            if (!ok) revert EtherTransferFailed(i);
            emit Paid(i, to[i], amounts[i]);
        }
    }

    /// @notice Moves `total` of `token` from the caller to this contract with one
    /// `transferFrom`, then `transfer`s each row's amount to its recipient. A row is one word:
    /// the recipient in the high 160 bits, the amount in the low 96. The rows must add up to
    /// `total` exactly, so nothing stays here. Every token call's answer is checked: tokens that
    /// return nothing (as USDT does) and tokens that return true are accepted, anything else
    /// reverts the call.
    function payToken(address token, uint256 total, uint256[] calldata rows) external {
        // A call to an address without code "succeeds" without moving anything.
        if (token.code.length == 0) revert NotAContract(token);
        // The row that failed; the pull's failure is type(uint256).max - 1; none: type(uint256).max.
        uint256 failed = type(uint256).max;
        uint256 paid;
        assembly {
            // Calls are built in scratch memory (0x00-0x63); the free memory pointer and the zero
            // slot they and their answers overwrite are put back afterwards.
            let freePointer := mload(0x40)

            // transferFrom(msg.sender, this, total). Accepted: the call succeeded and answered
            // nothing or exactly true.
            mstore(0x00, shl(224, 0x23b872dd))
            mstore(0x04, caller())
            mstore(0x24, address())
            mstore(0x44, total)
            // (Yul evaluates arguments right to left: the call is made first, on its own line,
            // so that the answer checked is its own.)
            let ok := call(gas(), token, 0, 0x00, 0x64, 0x00, 0x20)
            if iszero(and(ok, or(iszero(returndatasize()), and(eq(returndatasize(), 0x20), eq(mload(0x00), 1))))) {
                failed := sub(failed, 1)
            }

            // transfer(to, amount), row by row. The selector is written once: each row writes
            // only its two arguments (0x04-0x43) and each answer goes after them (0x44-0x63).
            if eq(failed, not(0)) {
                mstore(0x00, shl(224, 0xa9059cbb))
                let end := add(rows.offset, shl(5, rows.length))
                for { let p := rows.offset } lt(p, end) { p := add(p, 0x20) } {
                    let amount := and(calldataload(p), 0xffffffffffffffffffffffff)
                    mstore(0x04, shr(96, calldataload(p)))
                    mstore(0x24, amount)
                    ok := call(gas(), token, 0, 0x00, 0x44, 0x44, 0x20)
                    if iszero(and(ok, or(iszero(returndatasize()), and(eq(returndatasize(), 0x20), eq(mload(0x44), 1))))) {
                        failed := shr(5, sub(p, rows.offset))
                        break
                    }
                    // 96-bit amounts: no overflow in any number of rows a call can carry.
                    paid := add(paid, amount)
                }
            }

            mstore(0x40, freePointer)
            mstore(0x60, 0)
        }
        if (failed != type(uint256).max) revert TokenTransferFailed(failed);
        if (paid != total) revert TotalMismatch(total, paid);
    }
}
