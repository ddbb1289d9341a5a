//! Mass payouts through the PayoutBatch contract (contracts/PayoutBatch.sol): many rows in one
//! transaction. One row the contract refuses would revert its whole transaction, so each chunk is
//! simulated before it is signed (its gas estimate), and when it would revert each of its rows is
//! simulated alone (`eth_call`): a refused row fails by itself, before anything is signed. The others go out in chunks; each chunk is signed with its nonce and stored with the
//! rows it pays (their order is their index in the call) before it is broadcast, exactly as a
//! single transfer is, so a restart finds it instead of paying again.

use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::sol_types::{SolCall, SolEvent};

use super::config::Payment;
use super::rpc::{Call, RpcError};
use super::{EvmRail, Outgoing, REVERT_GAS, unavailable};
use crate::db::{self, evm::EvmTxRow};
use crate::domain::Amount;
use crate::rails::{RailError, RailTx, Transfer, TxState};

alloy::sol! {
    function payEther(address[] to, uint256[] amounts);
    function payToken(address token, uint256 total, uint256[] rows);
    function allowance(address owner, address spender) returns (uint256);
    function approve(address spender, uint256 amount) returns (bool);
    event Paid(uint256 indexed row, address indexed to, uint256 amount);
}

/// The ERC-20 event each token row's transfer logs.
mod erc20 {
    alloy::sol! {
        event Transfer(address indexed from, address indexed to, uint256 value);
    }
}

/// A token row's amount shares its word with the recipient: at most 96 bits (79 billion whole
/// units of an 18-decimal token). A larger one goes as its own transfer.
const ROW_AMOUNT_BITS: usize = 96;

/// One token row as the contract reads it: the recipient in the high 160 bits, the amount in
/// the low 96.
pub fn token_row(to: Address, amount: U256) -> U256 {
    (U256::from_be_slice(to.as_slice()) << ROW_AMOUNT_BITS) | amount
}

/// PayoutBatch's creation bytecode, compiled from contracts/PayoutBatch.sol by
/// contracts/compile.js (a test checks that they match).
pub const BATCH_BYTECODE: &str = include_str!("../../../contracts/PayoutBatch.bin");

/// Gas a token row adds to a batch, to a new holder (measured on anvil with `cargo bench --bench
/// evm_gas`, BENCHMARKS.md, rounded up for tokens that do more), for estimates before sending. Ether rows are estimated at a plain transfer's 21,000: rows to new accounts go that
/// way, and rows to existing ones cost less in a batch.
pub const TOKEN_GAS_PER_ROW: u64 = 28_000;

/// A chunk may use at most this share of the block's gas limit.
const BLOCK_SHARE: u64 = 4;

/// How long sending waits for a token approval or a deployment to be mined.
const MINING_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A node's message as a person may read it and any database may store it: a revert reason is
/// whatever bytes the contract chose (PostgreSQL refuses text with a NUL in it).
fn printable(message: &str) -> String {
    let kept: String = message.chars().filter(|c| !c.is_control()).take(200).collect();
    kept.trim().to_owned()
}

/// A row failed before anything was sent, with the node's reason.
fn refused(message: &str) -> RailTx {
    let reason = format!(
        "The transfer would be refused on chain ({}); it was not sent and nothing was paid.",
        printable(message)
    );
    RailTx { tx_hash: String::new(), state: TxState::Failed { reason }, log_index: None, vout: None, instruction: None }
}

impl EvmRail {
    fn batch_call(&self, contract: Address, payment: Payment, rows: &[(Address, U256)]) -> Call {
        let to: Vec<Address> = rows.iter().map(|r| r.0).collect();
        let amounts: Vec<U256> = rows.iter().map(|r| r.1).collect();
        match payment {
            Payment::Native => Call {
                from: self.wallet(),
                to: contract,
                value: amounts.iter().fold(U256::ZERO, |a, b| a.saturating_add(*b)),
                input: payEtherCall { to, amounts }.abi_encode().into(),
            },
            Payment::Token(token) => {
                let total = amounts.iter().fold(U256::ZERO, |a, b| a.saturating_add(*b));
                let rows = rows.iter().map(|(to, amount)| token_row(*to, *amount)).collect();
                Call {
                    from: self.wallet(),
                    to: contract,
                    value: U256::ZERO,
                    input: payTokenCall { token, total, rows }.abi_encode().into(),
                }
            }
        }
    }

    /// Sends one payout's rows through the batch contract. Answers one entry per transfer, in
    /// order, up to the first row that could not be sent now (those are tried again later).
    pub(super) fn submit_batched(
        &self,
        contract: Address,
        transfers: &[Transfer],
        fees: (u128, u128),
        chain_nonce: u64,
    ) -> Result<Vec<RailTx>, RailError> {
        let payment = self.payment_of(transfers[0].asset)?;
        if let Payment::Token(token) = payment {
            self.ensure_allowance(token, contract, fees, chain_nonce)?;
        }
        let mut answers: Vec<Option<RailTx>> = vec![None; transfers.len()];
        let mut queue: Vec<(usize, Address, U256)> = Vec::new();
        let mut plain: Vec<usize> = Vec::new();
        for (n, t) in transfers.iter().enumerate() {
            let (to, amount) = Self::recipient(t)?;
            // Ether to an account that does not exist yet costs 25,000 gas more inside a call
            // than a plain transaction's flat 21,000 (BENCHMARKS.md): such rows go on their own.
            if matches!(payment, Payment::Native) && self.is_new_account(to)?
                || matches!(payment, Payment::Token(_)) && amount.bit_len() > ROW_AMOUNT_BITS
            {
                plain.push(n);
            } else {
                queue.push((n, to, amount));
            }
        }
        let block_limit = self.rpc.block_gas_limit().map_err(unavailable)?;
        let mut coins = self.rpc.balance(self.wallet()).map_err(unavailable)?;
        for n in plain {
            match self.send_plain(&transfers[n], fees, chain_nonce, &mut coins)? {
                Some(tx) => answers[n] = Some(tx),
                None => break,
            }
        }
        let mut size = self.config.batch_rows;
        while !queue.is_empty() {
            let take = size.min(queue.len());
            // One row alone costs more through the contract than as its own transaction; it is
            // still checked first, as a row of a batch would be.
            if take == 1 {
                let (n, _, _) = queue.remove(0);
                match self.rpc.estimate_gas(&self.call_for(&transfers[n])?) {
                    Err(RpcError::Node { message, .. }) => answers[n] = Some(refused(&message)),
                    Err(e) => return Err(unavailable(e)),
                    Ok(_) => match self.send_plain(&transfers[n], fees, chain_nonce, &mut coins)? {
                        Some(tx) => answers[n] = Some(tx),
                        None => break,
                    },
                }
                continue;
            }
            let chunk = &queue[..take];
            let rows: Vec<(Address, U256)> = chunk.iter().map(|(_, to, a)| (*to, *a)).collect();
            let call = self.batch_call(contract, payment, &rows);
            let gas = match self.rpc.estimate_gas(&call) {
                Ok(g) => g.saturating_mul(6) / 5,
                // Some row would revert the whole chunk: each is tried alone, the refused ones
                // fail by themselves and the rest are chunked again. When every row passes
                // alone, the wallet cannot pay them together (its tokens run short): they wait
                // for funds rather than fail.
                Err(RpcError::Node { message, .. }) => {
                    let bad = self.refused_rows(contract, payment, chunk)?;
                    if bad.is_empty() {
                        tracing::warn!(rows = take, "a batch whose every row passes alone is refused whole: {message}");
                        break;
                    }
                    for (n, reason) in bad {
                        answers[n] = Some(refused(&reason));
                        queue.retain(|(m, _, _)| *m != n);
                    }
                    continue;
                }
                Err(e) => return Err(unavailable(e)),
            };
            if gas > block_limit / BLOCK_SHARE {
                size = take / 2;
                continue;
            }
            let cost = call.value + U256::from(gas) * U256::from(fees.0);
            if coins < cost {
                tracing::warn!(wallet = %self.wallet(), "the hot wallet holds {coins} wei, less than the {cost} wei a batch may cost");
                break;
            }
            coins -= cost;
            let members: Vec<String> = chunk.iter().map(|(n, _, _)| transfers[*n].key.clone()).collect();
            let key = format!("batch:{}", members[0]);
            let row = self.sign_and_store(&key, &Outgoing::call(&call, gas, fees), &members, chain_nonce)?;
            if let Err(e) = self.broadcast(&row) {
                tracing::warn!(batch = %key, error = %e, "broadcast failed; it will be retried by look-up");
            }
            for (n, _, _) in chunk {
                answers[*n] = Some(RailTx {
                    tx_hash: row.tx_hash.clone(),
                    state: TxState::Pending { confirmations: 0 },
                    log_index: None,
                    vout: None,
                    instruction: None,
                });
            }
            queue.drain(..take);
        }
        let sent: Vec<RailTx> = answers.into_iter().map_while(|a| a).collect();
        if sent.is_empty() && !transfers.is_empty() {
            return Err(unavailable("the hot wallet cannot pay these rows now (coins for gas or tokens short)"));
        }
        Ok(sent)
    }

    /// The rows of `chunk` the contract would refuse if each were sent alone, with the node's
    /// reason.
    fn refused_rows(
        &self,
        contract: Address,
        payment: Payment,
        chunk: &[(usize, Address, U256)],
    ) -> Result<Vec<(usize, String)>, RailError> {
        let mut bad = Vec::new();
        for (n, to, amount) in chunk {
            match self.rpc.eth_call(&self.batch_call(contract, payment, &[(*to, *amount)])) {
                Ok(_) => {}
                Err(RpcError::Node { message, .. }) => bad.push((*n, message)),
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(bad)
    }

    /// An account with no coin, no transaction and no code: paying it creates it.
    fn is_new_account(&self, who: Address) -> Result<bool, RailError> {
        if !self.rpc.balance(who).map_err(unavailable)?.is_zero() {
            return Ok(false);
        }
        Ok(self.rpc.pending_nonce(who).map_err(unavailable)? == 0
            && self
                .rpc
                .request("eth_getCode", serde_json::json!([who, "latest"]))
                .map_err(unavailable)?
                .as_str()
                .is_none_or(|c| c == "0x"))
    }

    /// Lets the batch contract move the wallet's tokens (one approval per token, of the most
    /// there is), waiting for it to be mined.
    fn ensure_allowance(
        &self,
        token: Address,
        contract: Address,
        fees: (u128, u128),
        chain_nonce: u64,
    ) -> Result<(), RailError> {
        let input = allowanceCall { owner: self.wallet(), spender: contract }.abi_encode();
        let answer = self.read(token, input).map_err(unavailable)?;
        let allowed = allowanceCall::abi_decode_returns(&answer).map_err(unavailable)?;
        if allowed >= U256::MAX >> 1 {
            return Ok(());
        }
        let call = Call {
            from: self.wallet(),
            to: token,
            value: U256::ZERO,
            input: approveCall { spender: contract, amount: U256::MAX }.abi_encode().into(),
        };
        let gas = self.rpc.estimate_gas(&call).map(|g| g.saturating_mul(6) / 5).unwrap_or(REVERT_GAS);
        // The allowance is part of the key: once this approval is mined and spent down, the
        // next one is a new transaction.
        let key = format!("approve:{token:#x}:{contract:#x}:{allowed}");
        let row = self.sign_and_store(&key, &Outgoing::call(&call, gas, fees), &[], chain_nonce)?;
        self.wait_mined(&row).map(drop)
    }

    /// Broadcasts a stored transaction and waits up to [`MINING_WAIT`] for its receipt.
    fn wait_mined(&self, row: &EvmTxRow) -> Result<super::rpc::Receipt, RailError> {
        let hash: B256 = row.tx_hash.parse().map_err(unavailable)?;
        let started = std::time::Instant::now();
        let _ = self.broadcast(row);
        loop {
            if let Some(receipt) = self.rpc.receipt(hash).map_err(unavailable)? {
                return if receipt.success {
                    Ok(receipt)
                } else {
                    Err(unavailable(format!("transaction {} reverted", row.tx_hash)))
                };
            }
            if started.elapsed() > MINING_WAIT {
                return Err(unavailable(format!("transaction {} is not mined yet; waiting", row.tx_hash)));
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    /// Deploys PayoutBatch from the hot wallet (its nonce reserved like any payment's) and
    /// returns its address once mined.
    pub fn deploy_batch(&self) -> Result<Address, String> {
        let code: Bytes = alloy::hex::decode(BATCH_BYTECODE.trim()).map_err(|e| e.to_string())?.into();
        let (base, tip) = self.rpc.fees().map_err(|e| e.to_string())?;
        let fees = (base.saturating_mul(2).saturating_add(tip).min(self.config.max_fee_per_gas), tip);
        let chain_nonce = self.rpc.pending_nonce(self.wallet()).map_err(|e| e.to_string())?;
        let key = format!("deploy-batch:{}", crate::crypto::random_hex(8));
        let out = Outgoing { to: TxKind::Create, value: U256::ZERO, input: code, gas: 1_000_000, fees };
        let row = self.sign_and_store(&key, &out, &[], chain_nonce).map_err(|e| e.to_string())?;
        let receipt = self.wait_mined(&row).map_err(|e| e.to_string())?;
        receipt.contract.ok_or_else(|| format!("transaction {} made no contract", row.tx_hash))
    }

    /// The state of each batch row among `keys`: (row key, answer). A batch is asked about once,
    /// however many of its rows are asked for.
    pub(super) fn batch_states(&self, keys: &[&str]) -> Result<Vec<(String, RailTx)>, RailError> {
        let mut conn = self.pool.get().map_err(unavailable)?;
        let rows = db::evm::batches_of(&mut conn, keys).map_err(unavailable)?;
        drop(conn);
        type Known = (TxState, String, Vec<(u64, u64)>);
        let mut states: std::collections::HashMap<String, Known> = Default::default();
        let mut answers = Vec::with_capacity(rows.len());
        for (key, batch, index) in rows {
            if !states.contains_key(&batch.idempotency_key) {
                let (state, hash) = self.state_of(&batch)?;
                let paid = match state {
                    TxState::Confirmed { .. } => self.paid_rows(&hash)?,
                    _ => Vec::new(),
                };
                states.insert(batch.idempotency_key.clone(), (state, hash, paid));
            }
            let (state, hash, paid) = &states[&batch.idempotency_key];
            let log_index = paid.iter().find(|(row, _)| *row == index as u64).map(|(_, log)| *log as u32);
            let state = match state {
                TxState::Confirmed { confirmations, network_fee } => TxState::Confirmed {
                    confirmations: *confirmations,
                    network_fee: network_fee.and_then(|fee| share_of(fee, paid, index as u64)),
                },
                other => other.clone(),
            };
            answers.push((key, RailTx { tx_hash: hash.clone(), state, log_index, vout: None, instruction: None }));
        }
        Ok(answers)
    }

    /// (row index, log index) of every row the batch's mined version `hash` paid: its Paid events
    /// (ether), or the token's Transfer events from the contract, one per row in row order (the
    /// contract pays token rows with `transfer` and logs nothing of its own for them).
    fn paid_rows(&self, hash: &str) -> Result<Vec<(u64, u64)>, RailError> {
        let hash: B256 = hash.parse().map_err(unavailable)?;
        let Some(receipt) = self.rpc.receipt(hash).map_err(unavailable)? else { return Ok(Vec::new()) };
        let paid: Vec<(u64, u64)> = receipt
            .logs
            .iter()
            .filter(|l| l.topics.first() == Some(&Paid::SIGNATURE_HASH))
            .filter_map(|l| Some((U256::from_be_bytes(l.topics.get(1)?.0).to::<u64>(), l.index.to::<u64>())))
            .collect();
        if !paid.is_empty() {
            return Ok(paid);
        }
        let Some(contract) = self.config.batch_contract else { return Ok(Vec::new()) };
        // The receipt holds this transaction's logs only: the pull into the contract is from
        // the wallet, each row's transfer from the contract.
        let from_contract = contract.into_word();
        Ok(receipt
            .logs
            .iter()
            .filter(|l| {
                l.topics.first() == Some(&erc20::Transfer::SIGNATURE_HASH) && l.topics.get(1) == Some(&from_contract)
            })
            .enumerate()
            .map(|(row, l)| (row as u64, l.index.to::<u64>()))
            .collect())
    }
}

/// A paid row's part of its batch transaction's fee: an equal share, the remainder to the
/// lowest row, so the rows' parts add up to what the chain charged.
fn share_of(fee: Amount, paid: &[(u64, u64)], row: u64) -> Option<Amount> {
    let n = paid.len() as i128;
    if n == 0 || !paid.iter().any(|(r, _)| *r == row) {
        return None;
    }
    let (each, rest) = (fee.minor() / n, fee.minor() % n);
    let first = paid.iter().map(|(r, _)| *r).min() == Some(row);
    Some(Amount::from_minor(fee.asset(), each + if first { rest } else { 0 }))
}

/// The keys of `keys` that are not batch rows, for the single-transfer look-up.
pub(super) fn singles<'a>(keys: &[&'a str], batched: &[(String, RailTx)]) -> Vec<&'a str> {
    let taken: std::collections::HashSet<&str> = batched.iter().map(|(k, _)| k.as_str()).collect();
    keys.iter().copied().filter(|k| !taken.contains(k)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn batch_fee_shares_add_up_to_the_fee() {
        let eth = crate::domain::asset::find("ETH").unwrap();
        let fee = crate::domain::Amount::from_minor(eth, 1_000_000_000_000_001);
        let paid = [(4, 10), (1, 11), (7, 12)];
        let parts: Vec<i128> = [1, 4, 7].iter().map(|r| super::share_of(fee, &paid, *r).unwrap().minor()).collect();
        assert_eq!(parts, vec![333_333_333_333_335, 333_333_333_333_333, 333_333_333_333_333]);
        assert_eq!(parts.iter().sum::<i128>(), 1_000_000_000_000_001);
        assert!(super::share_of(fee, &paid, 2).is_none());
    }

    #[test]
    fn a_revert_reason_is_stored_without_control_bytes_and_bounded() {
        assert_eq!(super::printable("execution reverted: \0\0\u{8}no"), "execution reverted: no");
        assert_eq!(super::printable(&"x".repeat(1000)).len(), 200);
    }
}
