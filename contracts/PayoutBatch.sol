// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IERC20 {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title PayoutBatch
/// @notice Pays many recipients in one transaction, from the caller: ether sent with the call,
/// or tokens the caller has approved this contract to move. It holds nothing between calls and
/// has no owner: a caller can only spend its own ether and its own allowance.
/// @dev One failing row reverts the whole call, so the sender simulates each row first.
contract PayoutBatch {
    /// @notice One per row paid, in row order; `row` is the row's index in the call.
    event Paid(uint256 indexed row, address indexed to, uint256 amount);

    error LengthMismatch();
    error ValueMismatch(uint256 total, uint256 sent);
    error NotAContract(address token);
    error EtherTransferFailed(uint256 row);
    error TokenTransferFailed(uint256 row);

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

    /// @notice Moves `amounts[i]` of `token` from the caller to `to[i]` with `transferFrom`.
    /// Tokens that return nothing (as USDT does) and tokens that return true are both accepted.
    function payToken(address token, address[] calldata to, uint256[] calldata amounts) external {
        if (to.length != amounts.length) revert LengthMismatch();
        // A call to an address without code "succeeds" without moving anything.
        if (token.code.length == 0) revert NotAContract(token);
        for (uint256 i; i < to.length; ++i) {
            (bool ok, bytes memory answer) =
                token.call(abi.encodeCall(IERC20.transferFrom, (msg.sender, to[i], amounts[i])));
            if (!ok || (answer.length != 0 && (answer.length != 32 || !abi.decode(answer, (bool))))) {
                revert TokenTransferFailed(i);
            }
            emit Paid(i, to[i], amounts[i]);
        }
    }
}
