//! A real chain: ETH and ERC-20 transfers on an EVM network, from one hot wallet.
//!
//! Exactly once: each transfer is signed with a nonce reserved in the database and stored
//! (signed bytes and hash, under the item's idempotency key) in the same transaction, before it
//! is broadcast. A later look-up for the key finds the stored transaction and asks the node about
//! it; a node that never saw it gets the same bytes again. An item is never signed twice.
//!
//! Mass payouts go out as consecutive transactions from the wallet, one per row, unless a batch
//! contract is configured (batch.rs: many rows per transaction, every row simulated first so
//! that one bad row fails alone). Pending transactions are replaced when stuck under the base fee
//! or cancelled by a manager (replace.rs).

pub mod batch;
pub mod config;
mod replace;
pub mod rpc;
pub mod signer;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::sol_types::SolCall;

use self::config::{EvmConfig, Payment};
use self::rpc::{Call, Rpc, RpcError};
use super::{GasOutlook, NetworkFee, OpenRows, Rail, RailError, RailTx, Transfer, TxState, WalletView};
use crate::clock::Clock;
use crate::db::{self, Pool, evm::EvmTxRow};
use crate::domain::{Amount, Asset, asset};

alloy::sol! {
    function transfer(address to, uint256 amount) returns (bool);
    function balanceOf(address owner) returns (uint256);
    function decimals() returns (uint8);
}

/// Gas given to a transfer the node expects to revert: it is sent anyway, so the chain itself
/// records the failure, but it cannot burn more than this.
const REVERT_GAS: u64 = 100_000;

/// Gas of an ERC-20 transfer to a new holder when the node cannot estimate one.
const TOKEN_TRANSFER_GAS: u64 = 65_000;
const NATIVE_TRANSFER_GAS: u64 = 21_000;

pub struct EvmRail {
    config: EvmConfig,
    rpc: Rpc,
    /// For the pages: a node that does not answer must not hold a page for long.
    display: Rpc,
    pool: Pool,
    /// The app's clock: when a sent transaction counts as stuck.
    clock: Clock,
}

fn unavailable(e: impl std::fmt::Display) -> RailError {
    RailError::Unavailable(e.to_string())
}

/// The EVM family's entry in `rails::family`: a `--chain-config evm=FILE` (or `--evm-config FILE`)
/// connected, its chain, tokens and batch contract checked. The key comes from the file's
/// `private_key_file`, its PKCS#11 signer, or [`config::KEY_ENV`].
pub fn connect_file(file: &std::path::Path, setup: &super::family::Setup) -> Result<super::family::Connected, String> {
    let config = EvmConfig::load(file, std::env::var(config::KEY_ENV).ok())?;
    let explorer_tx = config.explorer_tx.clone();
    let rail = EvmRail::connect(config, setup.pool.clone())?.with_clock(setup.clock.clone());
    rail.check_batch_contract().map_err(|e| format!("{}: {e}", file.display()))?;
    let (assets, wallet) = (rail.asset_codes(), rail.wallet().to_checksum(None));
    Ok(super::family::Connected { rail: std::sync::Arc::new(rail), assets, wallet, explorer_tx })
}

impl EvmRail {
    /// Judges time by `clock` (the app's) instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Connects and checks that the node is on the configured chain and that every token's
    /// contract reports the configured decimals.
    pub fn connect(config: EvmConfig, pool: Pool) -> Result<EvmRail, String> {
        let rpc = Rpc::new(&config.rpc_url);
        let chain = rpc.chain_id().map_err(|e| format!("EVM node {}: {e}", config.rpc_url))?;
        if chain != config.chain_id {
            return Err(format!("the node at {} is on chain {chain}, not {}", config.rpc_url, config.chain_id));
        }
        let display = Rpc::with_timeout(&config.rpc_url, std::time::Duration::from_secs(3));
        let rail = EvmRail { rpc, display, pool, config, clock: Clock::real() };
        for (asset, payment) in &rail.config.assets {
            if let Payment::Token(token) = payment {
                let answer =
                    rail.read(*token, decimalsCall {}.abi_encode()).map_err(|e| format!("{}: {e}", asset.code))?;
                let decimals = decimalsCall::abi_decode_returns(&answer)
                    .map_err(|e| format!("{}: the token at {token} has no decimals(): {e}", asset.code))?;
                if u32::from(decimals) != asset.decimals {
                    return Err(format!(
                        "{}: the token at {token} has {decimals} decimals, not {}",
                        asset.code, asset.decimals
                    ));
                }
            }
        }
        Ok(rail)
    }

    /// The batch contract named in the file, when there is one, must be this version's
    /// PayoutBatch: an older one takes other arguments, and every batch sent to it would revert.
    /// Its code (no constructor arguments, no immutables) is the runtime part of the creation
    /// code this program deploys. Checked before the server pays anything.
    pub fn check_batch_contract(&self) -> Result<(), String> {
        let Some(contract) = self.config.batch_contract else { return Ok(()) };
        let code = self
            .rpc
            .request("eth_getCode", serde_json::json!([contract, "latest"]))
            .map_err(|e| format!("batch_contract {contract}: {e}"))?;
        let code = code.as_str().unwrap_or_default().trim_start_matches("0x").to_ascii_lowercase();
        if code.is_empty() {
            return Err(format!("batch_contract {contract}: no contract there (deploy one: payouts evm deploy-batch)"));
        }
        if !batch::BATCH_BYTECODE.trim().to_ascii_lowercase().contains(&code) {
            return Err(format!(
                "batch_contract {contract} is not this version's PayoutBatch (the contract changed): deploy it \
                 again with `payouts evm deploy-batch` and name the new address in the file"
            ));
        }
        Ok(())
    }

    pub fn wallet(&self) -> Address {
        self.config.signer.address()
    }

    /// The asset codes this rail pays.
    pub fn asset_codes(&self) -> Vec<String> {
        self.config.assets.iter().map(|(a, _)| a.code.to_owned()).collect()
    }

    fn read(&self, to: Address, input: Vec<u8>) -> Result<Bytes, RpcError> {
        self.rpc.eth_call(&Call { from: self.wallet(), to, value: U256::ZERO, input: input.into() })
    }

    /// The hot wallet's balance of `code` on chain, in the asset's smallest units.
    pub fn wallet_balance(&self, code: &str) -> Result<Option<U256>, RailError> {
        let Some((_, payment)) = self.config.assets.iter().find(|(a, _)| a.code == code) else { return Ok(None) };
        match payment {
            Payment::Native => self.rpc.balance(self.wallet()).map(Some).map_err(unavailable),
            Payment::Token(token) => {
                let answer =
                    self.read(*token, balanceOfCall { owner: self.wallet() }.abi_encode()).map_err(unavailable)?;
                balanceOfCall::abi_decode_returns(&answer).map(Some).map_err(unavailable)
            }
        }
    }

    fn payment_of(&self, asset: &'static Asset) -> Result<Payment, RailError> {
        self.config
            .assets
            .iter()
            .find(|(a, _)| a.code == asset.code)
            .map(|(_, p)| *p)
            .ok_or_else(|| unavailable(format!("{} is not configured on this chain", asset.code)))
    }

    /// Where a transfer goes and how many of the asset's smallest units.
    fn recipient(t: &Transfer) -> Result<(Address, U256), RailError> {
        let to: Address = t.address.parse().map_err(|_| unavailable(format!("{} is not an EVM address", t.address)))?;
        let amount = U256::from(u128::try_from(t.amount.minor()).map_err(|_| unavailable("negative amount"))?);
        Ok((to, amount))
    }

    fn call_for(&self, t: &Transfer) -> Result<Call, RailError> {
        let payment = self.payment_of(t.asset)?;
        let (to, amount) = Self::recipient(t)?;
        Ok(match payment {
            Payment::Native => Call { from: self.wallet(), to, value: amount, input: Bytes::new() },
            Payment::Token(token) => Call {
                from: self.wallet(),
                to: token,
                value: U256::ZERO,
                input: transferCall { to, amount }.abi_encode().into(),
            },
        })
    }

    /// Signs a transaction with the next free nonce and stores it under `key` (with the rows
    /// `members` it pays, for a batch), in one database transaction, before anything is
    /// broadcast. Returns what is stored for the key (another processor may have stored it
    /// first).
    fn sign_and_store(
        &self,
        key: &str,
        out: &Outgoing,
        members: &[String],
        chain_nonce: u64,
    ) -> Result<EvmTxRow, RailError> {
        let (max_fee, tip) = out.fees;
        let from = format!("{:#x}", self.wallet());
        let chain_id = self.config.chain_id as i64;
        let mut conn = self.pool.get().map_err(unavailable)?;
        for _ in 0..10 {
            if let Some(row) = db::evm::find(&mut conn, key).map_err(unavailable)? {
                return Ok(row);
            }
            let stored = db::evm::max_nonce(&mut conn, chain_id, &from).map_err(unavailable)?;
            let nonce = stored.map_or(0, |n| n as u64 + 1).max(chain_nonce);
            let tx = TxEip1559 {
                chain_id: self.config.chain_id,
                nonce,
                gas_limit: out.gas,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                to: out.to,
                value: out.value,
                access_list: Default::default(),
                input: out.input.clone(),
            };
            let signature = self.config.signer.sign_hash(&tx.signature_hash()).map_err(unavailable)?;
            let envelope = TxEnvelope::from(tx.into_signed(signature));
            let row = EvmTxRow {
                idempotency_key: key.to_owned(),
                chain_id,
                from_address: from.clone(),
                nonce: nonce as i64,
                tx_hash: format!("{:#x}", envelope.tx_hash()),
                raw_tx: format!("0x{}", hex::encode(envelope.encoded_2718())),
                created_at: self.clock.now(),
                cancel_requested_at: None,
            };
            match db::write_tx(&mut conn, |c| db::evm::insert_batch(c, &row, members)) {
                Ok(()) => return Ok(row),
                // Another processor took this nonce (or stored this key): look again.
                Err(e) if db::is_unique_violation(&e) => {
                    if !members.is_empty()
                        && !db::evm::batches_of(&mut conn, &member_refs(members)).map_err(unavailable)?.is_empty()
                    {
                        return Err(unavailable(
                            "another processor sent some of these rows; they are looked up instead",
                        ));
                    }
                    continue;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(unavailable("no free nonce after 10 tries"))
    }

    fn broadcast(&self, row: &EvmTxRow) -> Result<(), RpcError> {
        let raw: Bytes = row.raw_tx.parse().map_err(|e| RpcError::Transport(format!("stored transaction: {e}")))?;
        match self.rpc.send_raw(&raw) {
            Ok(_) => Ok(()),
            // The node has it already (an earlier broadcast arrived): that is the goal.
            Err(RpcError::Node { message, .. }) if message.to_lowercase().contains("already") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What the chain did with a stored transaction, if it was mined.
    fn mined(&self, hash: &str) -> Result<Option<TxState>, RailError> {
        let hash: B256 = hash.parse().map_err(unavailable)?;
        let Some(receipt) = self.rpc.receipt(hash).map_err(unavailable)? else { return Ok(None) };
        if !receipt.success {
            return Ok(Some(TxState::Failed {
                reason: "The transaction reverted on chain (for a token, the hot wallet may hold too few tokens); nothing was paid.".into(),
            }));
        }
        let head = self.rpc.block_number().map_err(unavailable)?;
        let confirmations = head.saturating_sub(receipt.block) as u32 + 1;
        let network_fee = receipt.fee.zip(self.coin()).map(|(wei, coin)| amount(coin, U256::from(wei)));
        Ok(Some(if confirmations >= self.config.confirmations {
            TxState::Confirmed { confirmations, network_fee }
        } else {
            TxState::Pending { confirmations }
        }))
    }

    /// What became of one signed version, if it was mined: a version that is a manager's
    /// cancellation (an empty transfer to the wallet itself) means the row was not paid.
    fn version_state(&self, hash: &str, raw: &str) -> Result<Option<TxState>, RailError> {
        let state = self.mined(hash)?;
        if !self.is_cancellation(raw) {
            return Ok(state);
        }
        Ok(state.map(|s| match s {
            TxState::Confirmed { .. } => TxState::Failed {
                reason: "Cancelled by a manager while it was pending: an empty transaction took its place on chain; \
                         nothing was paid."
                    .into(),
            },
            other => other,
        }))
    }

    /// What became of a stored transaction, and the hash that tells: the stored version's, or
    /// an earlier version's that was mined before its replacement could be.
    fn state_of(&self, row: &EvmTxRow) -> Result<(TxState, String), RailError> {
        if let Some(state) = self.version_state(&row.tx_hash, &row.raw_tx)? {
            return Ok((state, row.tx_hash.clone()));
        }
        let earlier = {
            let mut conn = self.pool.get().map_err(unavailable)?;
            db::evm::replaced_of(&mut conn, &row.idempotency_key).map_err(unavailable)?
        };
        for (hash, raw) in &earlier {
            if let Some(state) = self.version_state(hash, raw)? {
                return Ok((state, hash.clone()));
            }
        }
        let pending = TxState::Pending { confirmations: 0 };
        let hash: B256 = row.tx_hash.parse().map_err(unavailable)?;
        if self.rpc.knows(hash).map_err(unavailable)? {
            return Ok((pending, self.replace_if_due(row)?));
        }
        // Neither mined nor pending: the node lost it (a restart, a crash before the first
        // broadcast). The same signed bytes go again.
        match self.broadcast(row) {
            Ok(()) => Ok((pending, row.tx_hash.clone())),
            // Priced under the base fee, the node will not even hold it: it waits for a
            // replacement (or for the base fee to fall).
            Err(RpcError::Node { message, .. }) if underpriced(&message) => Ok((pending, self.replace_if_due(row)?)),
            Err(RpcError::Node { message, .. }) if message.to_lowercase().contains("nonce too low") => {
                // Its nonce went to another transaction, unless one of its versions was mined a
                // moment ago.
                let current = (row.tx_hash.clone(), row.raw_tx.clone());
                for (hash, raw) in std::iter::once(&current).chain(&earlier) {
                    if let Some(state) = self.version_state(hash, raw)? {
                        return Ok((state, hash.clone()));
                    }
                }
                let reason = format!(
                    "The transaction was dropped: its nonce {} was used by another transaction; nothing was paid.",
                    row.nonce
                );
                Ok((TxState::Failed { reason }, row.tx_hash.clone()))
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

impl EvmRail {
    /// One row as its own transaction. None when the wallet's coin (`coins`, what is left of it
    /// in this round) cannot pay its value and the most its gas may cost: nothing is signed, as
    /// the node would refuse it and every later nonce would queue behind it; the row waits.
    fn send_plain(
        &self,
        t: &Transfer,
        fees: (u128, u128),
        chain_nonce: u64,
        coins: &mut U256,
    ) -> Result<Option<RailTx>, RailError> {
        let call = self.call_for(t)?;
        let gas = match self.rpc.estimate_gas(&call) {
            Ok(g) => g.saturating_mul(6) / 5,
            Err(RpcError::Node { .. }) => REVERT_GAS,
            Err(e) => return Err(unavailable(e)),
        };
        let cost = call.value + U256::from(gas) * U256::from(fees.0);
        if *coins < cost {
            tracing::warn!(wallet = %self.wallet(), "the hot wallet holds {coins} wei, less than the {cost} wei a transfer may cost");
            return Ok(None);
        }
        *coins -= cost;
        let row = self.sign_and_store(&t.key, &Outgoing::call(&call, gas, fees), &[], chain_nonce)?;
        if let Err(e) = self.broadcast(&row) {
            // Stored: the look-up after this sends the same bytes again or finds them.
            tracing::warn!(key = %t.key, error = %e, "broadcast failed; it will be retried by look-up");
        }
        Ok(Some(RailTx {
            tx_hash: row.tx_hash,
            state: TxState::Pending { confirmations: 0 },
            log_index: None,
            vout: None,
            instruction: None,
        }))
    }
}

/// Whether a node refused a transaction for its fee.
fn underpriced(message: &str) -> bool {
    let m = message.to_lowercase();
    ["base fee", "underpriced", "fee cap", "max fee per gas less than"].iter().any(|s| m.contains(s))
}

/// A transaction to sign: to a contract or account (or creating one), with value, calldata, gas
/// and (max fee, tip) per gas.
struct Outgoing {
    to: TxKind,
    value: U256,
    input: Bytes,
    gas: u64,
    fees: (u128, u128),
}

impl Outgoing {
    fn call(call: &Call, gas: u64, fees: (u128, u128)) -> Outgoing {
        Outgoing { to: TxKind::Call(call.to), value: call.value, input: call.input.clone(), gas, fees }
    }
}

fn member_refs(members: &[String]) -> Vec<&str> {
    members.iter().map(String::as_str).collect()
}

fn amount(asset: &'static Asset, units: U256) -> Amount {
    let minor = if units > U256::from(i128::MAX as u128) { i128::MAX } else { units.to::<u128>() as i128 };
    Amount::from_minor(asset, minor)
}

/// The coin the network charges gas in: the asset of the same network without a token suffix
/// (ETH on Ethereum, BNB on BNB Smart Chain, POL on Polygon).
fn native_of(asset: &'static Asset) -> Option<&'static Asset> {
    asset::ASSETS.iter().find(|a| a.network == asset.network && !a.code.contains('_'))
}

impl EvmRail {
    /// The coin this chain charges gas in.
    fn coin(&self) -> Option<&'static Asset> {
        self.config.assets.first().and_then(|(a, _)| native_of(a))
    }
}

impl EvmRail {
    /// Gas a row is expected to use: a plain transfer, or its share of a batch (measured on
    /// anvil, BENCHMARKS.md) when `rows` go out through the batch contract.
    fn gas_per_row(&self, payment: Payment, rows: usize) -> u64 {
        let batched = self.config.batch_contract.is_some() && rows > 1;
        match (payment, batched) {
            (Payment::Native, _) => NATIVE_TRANSFER_GAS,
            (Payment::Token(_), true) => batch::TOKEN_GAS_PER_ROW,
            (Payment::Token(token), false) => {
                let input = transferCall { to: Address::with_last_byte(1), amount: U256::from(1) }.abi_encode().into();
                let call = Call { from: self.wallet(), to: token, value: U256::ZERO, input };
                self.display.estimate_gas(&call).unwrap_or(TOKEN_TRANSFER_GAS).max(TOKEN_TRANSFER_GAS)
            }
        }
    }
}

impl Rail for EvmRail {
    fn label(&self) -> &'static str {
        "EVM network"
    }

    fn pays(&self, asset: &'static Asset) -> bool {
        self.config.assets.iter().any(|(a, _)| a.code == asset.code)
    }

    fn wallet(&self, asset: &'static Asset) -> Option<WalletView> {
        let (_, payment) = self.config.assets.iter().find(|(a, _)| a.code == asset.code)?;
        let on_chain = match payment {
            Payment::Native => self.display.balance(self.wallet()),
            Payment::Token(token) => {
                let input = balanceOfCall { owner: self.wallet() }.abi_encode().into();
                self.display
                    .eth_call(&Call { from: self.wallet(), to: *token, value: U256::ZERO, input })
                    .and_then(|b| balanceOfCall::abi_decode_returns(&b).map_err(|e| RpcError::Transport(e.to_string())))
            }
        };
        Some(WalletView {
            asset,
            address: self.wallet().to_checksum(None),
            on_chain: on_chain.map(|u| amount(asset, u)).map_err(|e| e.to_string()),
        })
    }

    fn network_fee(&self, asset: &'static Asset, addresses: &[&str], _: bool) -> Option<Result<NetworkFee, String>> {
        let transfers = addresses.len();
        let (_, payment) = self.config.assets.iter().find(|(a, _)| a.code == asset.code)?;
        let native = native_of(asset)?;
        let gas = self.gas_per_row(*payment, transfers);
        Some(self.display.fees().map_err(|e| e.to_string()).map(|(base, tip)| {
            let wei = U256::from(gas) * U256::from(transfers) * U256::from(base.saturating_add(tip));
            let transactions = if transfers > 1 && self.supports_batch() { 1 } else { transfers };
            NetworkFee::plain(amount(native, wei), transfers, transactions)
        }))
    }

    fn gas_outlook(&self, open: &[OpenRows]) -> Option<Result<GasOutlook, String>> {
        let mine: Vec<(&OpenRows, Payment)> = open
            .iter()
            .filter_map(|o| self.config.assets.iter().find(|(a, _)| a.code == o.asset.code).map(|(_, p)| (o, *p)))
            .collect();
        let coin = native_of(mine.first()?.0.asset)?;
        let outlook = || -> Result<GasOutlook, RpcError> {
            let held = self.display.balance(self.wallet())?;
            let (base, tip) = self.display.fees()?;
            // The most a transaction may be charged: the node refuses one the wallet cannot cover.
            let price = U256::from(base.saturating_mul(2).saturating_add(tip));
            let (mut gas, mut value) = (U256::ZERO, Amount::zero(coin));
            for (o, payment) in &mine {
                gas += U256::from(self.gas_per_row(*payment, o.rows)) * U256::from(o.rows) * price;
                if matches!(payment, Payment::Native) {
                    value = value.checked_add(o.value).unwrap_or(value);
                }
            }
            Ok(GasOutlook {
                coin,
                address: self.wallet().to_checksum(None),
                held: amount(coin, held),
                gas: amount(coin, gas),
                value,
            })
        };
        Some(outlook().map_err(|e| e.to_string()))
    }

    fn supports_batch(&self) -> bool {
        self.config.batch_contract.is_some()
    }

    fn submit(&self, transfers: &[Transfer]) -> Result<Vec<RailTx>, RailError> {
        let (base, tip) = self.rpc.fees().map_err(unavailable)?;
        let max_fee = base.saturating_mul(2).saturating_add(tip);
        if max_fee > self.config.max_fee_per_gas {
            return Err(unavailable(format!(
                "gas costs {} gwei, above the cap of {} gwei: waiting",
                max_fee / 1_000_000_000,
                self.config.max_fee_per_gas / 1_000_000_000
            )));
        }
        let chain_nonce = self.rpc.pending_nonce(self.wallet()).map_err(unavailable)?;
        // A single payout keeps its plain transfer; a mass payout's rows share transactions.
        if let Some(contract) = self.config.batch_contract
            && transfers.len() > 1
        {
            return self.submit_batched(contract, transfers, (max_fee, tip), chain_nonce);
        }
        let mut coins = self.rpc.balance(self.wallet()).map_err(unavailable)?;
        let mut sent = Vec::with_capacity(transfers.len());
        for t in transfers {
            match self.send_plain(t, (max_fee, tip), chain_nonce, &mut coins)? {
                Some(tx) => sent.push(tx),
                None if sent.is_empty() => {
                    return Err(unavailable(format!("the hot wallet {} cannot pay this transfer now", self.wallet())));
                }
                None => break,
            }
        }
        Ok(sent)
    }

    fn lookup(&self, key: &str) -> Result<Option<RailTx>, RailError> {
        self.lookup_many(&[key]).pop().unwrap_or(Ok(None))
    }

    /// Batch rows are answered from their batch's receipt (asked once per batch); the others
    /// one by one. A node that does not answer fails only the keys it was asked about.
    fn lookup_many(&self, keys: &[&str]) -> Vec<Result<Option<RailTx>, RailError>> {
        let batched = match self.batch_states(keys) {
            Ok(b) => b,
            Err(e) => return keys.iter().map(|_| Err(e.clone())).collect(),
        };
        let singles = batch::singles(keys, &batched);
        let stored = match self
            .pool
            .get()
            .map_err(unavailable)
            .and_then(|mut c| db::evm::find_many(&mut c, &singles).map_err(unavailable))
        {
            Ok(rows) => rows,
            Err(e) => return keys.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut answers: std::collections::HashMap<String, Result<Option<RailTx>, RailError>> =
            batched.into_iter().map(|(k, tx)| (k, Ok(Some(tx)))).collect();
        for row in stored {
            let answer = self.state_of(&row).map(|(state, tx_hash)| {
                Some(RailTx { tx_hash, state, log_index: None, vout: None, instruction: None })
            });
            answers.insert(row.idempotency_key.clone(), answer);
        }
        keys.iter().map(|k| answers.get(*k).cloned().unwrap_or(Ok(None))).collect()
    }
}
