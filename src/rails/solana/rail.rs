//! The Solana family as a [`Rail`]: a payout's rows prepared into chunks (prepare.rs), each
//! stored with its rows, signature, bytes and last valid block height before it is sent, and
//! followed by its signature until it lands at the configured commitment — sent again while its
//! blockhash is valid, signed anew only once it expired unseen (follow.rs).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use super::build;
use super::config::{Commitment, KEY_ENV, Payment, SolanaConfig};
use super::prepare::{BASE_FEE, Wanted};
use super::rpc::SolanaRpc;
use crate::clock::Clock;
use crate::db::solana::{SolanaRowRow, SolanaTxRow};
use crate::db::{self, Pool};
use crate::domain::{Amount, Asset, asset};
use crate::rails::family::{Connected, Setup};
use crate::rails::{GasOutlook, NetworkFee, OpenRows, Rail, RailError, RailTx, Transfer, TxState, WalletView};

/// What a rail-created token account holds (its rent-exempt minimum) is read at start for an
/// account of this many bytes.
const TOKEN_ACCOUNT_SPACE: u64 = 165;

/// Compute units per row for the review's priority fee, before any simulation: upper bounds, so
/// that the review never shows less than is paid (the sending simulates and pays for what it
/// measured). The classic SPL Token program's `transfer_checked` takes about 6,200 units;
/// surfpool's network runs the leaner p-token program (105 a row, BENCHMARKS.md); an idempotent
/// create took 13,630–14,965 there.
const UNITS_PER_TRANSFER: u64 = 6_500;
const UNITS_PER_ACCOUNT: u64 = 25_000;

pub struct SolanaRail {
    pub(super) config: SolanaConfig,
    pub(super) rpc: SolanaRpc,
    /// For the pages: a node that does not answer must not hold a page for long.
    display: SolanaRpc,
    pub(super) payer: Keypair,
    pub(super) pool: Pool,
    pub(super) clock: Clock,
    /// The lamports a new token account must hold, paid by the hot wallet when it creates one.
    pub(super) account_rent: u64,
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> RailError {
    RailError::Unavailable(e.to_string())
}

/// The Solana family's entry in `rails::family`: `--chain-config solana=FILE`, the key from the
/// file it names or [`KEY_ENV`], each token's mint checked on chain.
pub fn connect_file(file: &std::path::Path, setup: &Setup) -> Result<Connected, String> {
    let config = SolanaConfig::load(file, std::env::var(KEY_ENV).ok())?;
    let explorer_tx = config.explorer_tx.clone();
    let rail = SolanaRail::connect(config, setup.pool.clone(), setup.clock.clone())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let wallet = format!("wallet {} on {}", rail.config.wallet(), rail.config.rpc_url);
    let assets = rail.config.assets.iter().map(|(a, _)| a.code.to_owned()).collect();
    Ok(Connected { assets, wallet, rail: Arc::new(rail), explorer_tx })
}

impl SolanaRail {
    /// Reaches the node and refuses a token whose mint is missing, is not an SPL Token mint, or
    /// has other decimals than the config says.
    pub fn connect(config: SolanaConfig, pool: Pool, clock: Clock) -> Result<SolanaRail, String> {
        let url = config.rpc_url.clone();
        let rpc = SolanaRpc::new(&url, Duration::from_secs(30));
        let at = |e: super::rpc::RpcError| format!("node {url}: {e}");
        for (asset, payment) in &config.assets {
            let Payment::Token { mint, decimals } = payment else { continue };
            let shown = bs58::encode(mint).into_string();
            let account = rpc.accounts(&[&shown]).map_err(at)?.pop().flatten();
            let account = account
                .ok_or_else(|| format!("{}'s mint {shown} does not exist on the network at {url}", asset.code))?;
            if account.owner != spl_token_interface::id().to_string() {
                return Err(format!(
                    "{}'s mint {shown} is not an SPL Token mint (its program is {}); this rail pays classic SPL tokens",
                    asset.code, account.owner
                ));
            }
            // A mint's decimals follow its authority (4 + 32 bytes) and supply (8).
            match account.data.get(44) {
                Some(d) if d == decimals => {}
                Some(d) => {
                    return Err(format!(
                        "{}'s mint {shown} has {d} decimals on chain, but the config says {decimals}",
                        asset.code
                    ));
                }
                None => return Err(format!("{}'s mint {shown} holds no mint data", asset.code)),
            }
        }
        let account_rent = rpc.rent(TOKEN_ACCOUNT_SPACE).map_err(at)?;
        let payer = build::keypair(config.key.to_bytes());
        let display = SolanaRpc::new(&url, Duration::from_secs(3));
        Ok(SolanaRail { config, rpc, display, payer, pool, clock, account_rent })
    }

    pub(super) fn payer_key(&self) -> Pubkey {
        self.payer.pubkey()
    }

    pub(super) fn payment(&self, asset: &'static Asset) -> Option<Payment> {
        self.config.assets.iter().find(|(a, _)| a.code == asset.code).map(|(_, p)| *p)
    }

    pub(super) fn sol(lamports: u64) -> Amount {
        Amount::from_minor(asset::find("SOL").expect("SOL is an asset"), i128::from(lamports))
    }

    /// The price per compute unit to pay now: recent transactions' (writing the hot wallet),
    /// never above the config's cap; 0 when the cap is 0.
    pub(super) fn priority_price(&self) -> u64 {
        let cap = self.config.max_priority_fee_micro_lamports;
        if cap == 0 {
            return 0;
        }
        self.rpc.priority_fee(&self.config.wallet()).unwrap_or(0).min(cap)
    }

    /// Stores a prepared chunk with its rows, then sends it. Err when nothing was stored.
    fn store_and_send(
        &self,
        code: &str,
        chunk: &super::prepare::Chunk,
        batch: &[Transfer],
        last_valid: u64,
    ) -> Result<(), RailError> {
        let tx_key = batch[chunk.rows[0]].key.clone();
        let tx = SolanaTxRow {
            tx_key: tx_key.clone(),
            asset: code.to_owned(),
            signature: chunk.signed.signature.clone(),
            raw_tx: base64::engine::general_purpose::STANDARD.encode(&chunk.signed.bytes),
            last_valid_height: last_valid as i64,
            version: 0,
            created_at: self.clock.now(),
        };
        let mut rows = Vec::with_capacity(chunk.rows.len());
        for (n, (row, creates)) in chunk.rows.iter().zip(&chunk.creates).enumerate() {
            let t = &batch[*row];
            rows.push(SolanaRowRow {
                idempotency_key: t.key.clone(),
                tx_key: tx_key.clone(),
                row_index: n as i32,
                address: t.address.clone(),
                amount: units(t.amount)? as i64,
                creates_account: *creates,
                instruction_index: Some(chunk.signed.instruction_index[n] as i32),
                failed: None,
            });
        }
        self.pool.get().map_err(unavailable).and_then(|mut c| {
            db::solana::insert(&mut c, &tx, &rows).map_err(|e| {
                if db::is_unique_violation(&e) {
                    unavailable("another processor sent some of these rows; they are looked up instead")
                } else {
                    unavailable(e)
                }
            })
        })?;
        if let Err(e) = self.rpc.send(&chunk.signed.bytes) {
            // Stored: the look-up sends the same bytes again while they can land.
            tracing::warn!(signature = %tx.signature, error = %e, "send failed; it will be retried by look-up");
        }
        Ok(())
    }

    /// What the hot wallet holds of `asset` on chain.
    fn held(&self, rpc: &SolanaRpc, asset: &'static Asset) -> Result<Amount, String> {
        match self.payment(asset) {
            Some(Payment::Native) => rpc.balance(&self.config.wallet()).map(Self::sol).map_err(|e| e.to_string()),
            Some(Payment::Token { mint, .. }) => {
                let own = build::token_account(&self.payer_key(), &Pubkey::new_from_array(mint));
                let units = rpc.token_balance(&own.to_string()).map_err(|e| e.to_string())?.unwrap_or(0);
                Ok(Amount::from_minor(asset, i128::from(units)))
            }
            None => Err(format!("{} is not paid by this rail", asset.code)),
        }
    }

    /// The review's estimate: the transactions `addresses` pack into, their fees, and the rent
    /// of the token accounts to be created; notes on addresses that would lose tokens or fail.
    fn estimate(&self, asset: &'static Asset, addresses: &[&str], org_creates: bool) -> Result<NetworkFee, String> {
        let payment = self.payment(asset).ok_or("not paid here")?;
        let owners: Vec<Option<Pubkey>> = addresses
            .iter()
            .map(|a| {
                bs58::decode(a).into_vec().ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).map(Pubkey::new_from_array)
            })
            .collect();
        let mut rows: Vec<build::Row> =
            owners.iter().flatten().map(|to| build::Row { to: *to, amount: 1, create_account: false }).collect();
        let mut notes = Vec::new();
        if let Payment::Token { mint, .. } = payment {
            let mint = Pubkey::new_from_array(mint);
            let mut asked: Vec<String> = rows.iter().map(|r| build::token_account(&r.to, &mint).to_string()).collect();
            asked.extend(rows.iter().map(|r| r.to.to_string()));
            let refs: Vec<&str> = asked.iter().map(String::as_str).collect();
            let found = self.display.accounts(&refs).map_err(|e| e.to_string())?;
            let (accounts, themselves) = found.split_at(rows.len());
            let token = spl_token_interface::id().to_string();
            for ((row, account), itself) in rows.iter_mut().zip(accounts).zip(themselves) {
                let shown = crate::domain::asset::shorten(&row.to.to_string(), 6, 4);
                if itself.as_ref().is_some_and(|a| a.owner == token) {
                    notes.push(format!(
                        "{shown} is itself a token account, not a wallet: {} sent to it go to a token account \
                         that it owns, which nobody may be able to use. Ask the recipient for their wallet address.",
                        asset.code
                    ));
                }
                match super::prepare::token_account_state(account.as_ref(), &mint, &row.to) {
                    Ok(create) if create && !(org_creates && self.config.create_token_accounts) => {
                        let who = if org_creates { "this rail" } else { "your organization (Settings → Assets)" };
                        notes.push(format!(
                            "{shown} has no {} token account and {who} does not create them: the row will fail.",
                            asset.code
                        ))
                    }
                    Ok(create) => row.create_account = create,
                    Err(why) => notes.push(format!("{shown}: {why}; the row will fail.")),
                }
            }
        }
        let created = rows.iter().filter(|r| r.create_account).count();
        let price = self
            .config
            .max_priority_fee_micro_lamports
            .min(self.display.priority_fee(&self.config.wallet()).unwrap_or(0));
        let mut transactions = 0u64;
        let mut lamports = 0u64;
        if !rows.is_empty() {
            let chunks = build::pack(
                &self.payer,
                payment,
                &rows,
                solana_hash::Hash::default(),
                build::Priority { micro_lamports: price, unit_limit: build::MAX_UNITS },
            )?;
            for chunk in &chunks {
                let made = rows[chunk.rows.clone()].iter().filter(|r| r.create_account).count() as u64;
                let units = chunk.rows.len() as u64 * UNITS_PER_TRANSFER + made * UNITS_PER_ACCOUNT;
                let priority = build::Priority { micro_lamports: price, unit_limit: (units * 6 / 5 + 1_000) as u32 };
                lamports += BASE_FEE + if price > 0 { priority.lamports() } else { 0 };
            }
            transactions = chunks.len() as u64;
        }
        let rent = created as u64 * self.account_rent;
        Ok(NetworkFee {
            amount: Self::sol(lamports + rent),
            transfers: addresses.len(),
            transactions: transactions as usize,
            new_accounts: created,
            rent: (rent > 0).then(|| Self::sol(rent)),
            notes,
        })
    }
}

/// A transfer's amount in its asset's smallest unit.
pub(super) fn units(amount: Amount) -> Result<u64, RailError> {
    u64::try_from(amount.minor()).map_err(|_| unavailable(format!("{amount} is not a payable amount")))
}

impl Rail for SolanaRail {
    fn label(&self) -> &'static str {
        "Solana network"
    }

    fn pays(&self, asset: &'static Asset) -> bool {
        self.payment(asset).is_some()
    }

    fn supports_batch(&self) -> bool {
        true
    }

    /// Rows packed into as few transactions as fit, each simulated, stored, then sent. A row
    /// the network refuses alone fails with the reason; when the wallet is short the rest wait.
    fn submit(&self, transfers: &[Transfer]) -> Result<Vec<RailTx>, RailError> {
        let Some(first) = transfers.first() else { return Ok(Vec::new()) };
        let payment =
            self.payment(first.asset).ok_or_else(|| unavailable(format!("{} is not paid here", first.asset.code)))?;
        let creates = {
            let mut conn = self.pool.get().map_err(unavailable)?;
            db::orgs::find(&mut conn, first.org_id).map_err(unavailable)?.create_token_accounts
        };
        let mut wanted = Vec::with_capacity(transfers.len());
        for t in transfers {
            wanted.push(Wanted { address: &t.address, amount: units(t.amount)?, may_create: creates });
        }
        let (blockhash, last_valid) = self.rpc.latest_blockhash(Commitment::Confirmed).map_err(unavailable)?;
        let prepared = self.prepare(payment, first.asset.code, &wanted, blockhash, self.priority_price());
        let mut answers: Vec<Option<RailTx>> = vec![None; transfers.len()];
        for (n, why) in &prepared.refused {
            answers[*n] = Some(RailTx {
                tx_hash: String::new(),
                state: TxState::Failed { reason: why.clone() },
                log_index: None,
                vout: None,
                instruction: None,
            });
        }
        let mut stopped = prepared.waiting.clone();
        for chunk in &prepared.chunks {
            if let Err(e) = self.store_and_send(first.asset.code, chunk, transfers, last_valid) {
                stopped = Some(e.to_string());
                break;
            }
            for (k, row) in chunk.rows.iter().enumerate() {
                answers[*row] = Some(RailTx {
                    tx_hash: chunk.signed.signature.clone(),
                    state: TxState::Pending { confirmations: 0 },
                    log_index: None,
                    vout: None,
                    instruction: Some(chunk.signed.instruction_index[k]),
                });
            }
        }
        // Answers in the transfers' order, up to the first row left waiting.
        let decided: Vec<RailTx> = answers.into_iter().map_while(|a| a).collect();
        match stopped {
            Some(why) if decided.is_empty() => Err(unavailable(why)),
            Some(why) => {
                tracing::warn!(reason = %why, "the rest of the payout waits");
                Ok(decided)
            }
            None => Ok(decided),
        }
    }

    fn lookup(&self, key: &str) -> Result<Option<RailTx>, RailError> {
        self.lookup_many(&[key]).pop().unwrap_or(Ok(None))
    }

    fn lookup_many(&self, keys: &[&str]) -> Vec<Result<Option<RailTx>, RailError>> {
        self.follow_many(keys)
    }

    fn wallet(&self, asset: &'static Asset) -> Option<WalletView> {
        self.pays(asset).then(|| WalletView {
            asset,
            address: self.config.wallet(),
            on_chain: self.held(&self.display, asset),
        })
    }

    fn network_fee(
        &self,
        asset: &'static Asset,
        addresses: &[&str],
        creates_accounts: bool,
    ) -> Option<Result<NetworkFee, String>> {
        self.pays(asset).then(|| self.estimate(asset, addresses, creates_accounts))
    }

    fn gas_outlook(&self, open: &[OpenRows]) -> Option<Result<GasOutlook, String>> {
        let mine: Vec<&OpenRows> = open.iter().filter(|o| self.pays(o.asset)).collect();
        if mine.is_empty() {
            return None;
        }
        let outlook = || -> Result<GasOutlook, String> {
            let held = self.display.balance(&self.config.wallet()).map_err(|e| e.to_string())?;
            // At least one transaction per 20 rows; rent is not known before the addresses are read.
            let rows: usize = mine.iter().map(|o| o.rows).sum();
            let gas = rows.div_ceil(20) as u64 * BASE_FEE;
            let value = mine
                .iter()
                .filter(|o| o.asset.code == "SOL")
                .map(|o| o.value)
                .fold(Self::sol(0), |sum, v| sum.checked_add(v).unwrap_or(sum));
            Ok(GasOutlook {
                coin: Self::sol(0).asset(),
                address: self.config.wallet(),
                held: Self::sol(held),
                gas: Self::sol(gas),
                value,
            })
        };
        Some(outlook())
    }
}
