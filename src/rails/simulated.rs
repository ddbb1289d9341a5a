//! The simulated network: the embedded default, so the product can be tried without money.
//! It keeps its own record of what it "sent" in the database (table `sim_transfers`), shared by
//! every server process and kept across restarts, like a real chain; tests read it to prove
//! that nothing was sent twice.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::{Rail, RailError, RailTx, Transfer, TxState};
use crate::clock::Clock;
use crate::crypto;
use crate::db::{self, Pool, sim};

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Time from submission to full confirmation.
    pub confirm_after: Duration,
    /// Confirmations reported once confirmed.
    pub confirmations: u32,
    /// Transfers to these addresses fail.
    pub fail_addresses: Vec<String>,
    /// Share of other transfers that fail, from 0 to 1000 per mille; chosen by the transfer's
    /// key, so the same transfer always has the same fate.
    pub failure_per_mille: u16,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            confirm_after: Duration::from_secs(4),
            confirmations: 3,
            fail_addresses: Vec::new(),
            failure_per_mille: 0,
        }
    }
}

pub struct SimulatedRail {
    pool: Pool,
    config: SimConfig,
    clock: Clock,
}

impl SimulatedRail {
    pub fn new(pool: Pool, config: SimConfig) -> Self {
        Self { pool, config, clock: Clock::real() }
    }

    /// Confirms by `clock` (the app's) instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn failure_reason(&self, t: &Transfer) -> Option<String> {
        if self.config.fail_addresses.iter().any(|a| a.eq_ignore_ascii_case(&t.address)) {
            return Some(
                "The network rejected the transfer to this address (simulated failure list). Check the address with the recipient."
                    .into(),
            );
        }
        let roll = u16::from_str_radix(&crypto::sha256_hex(t.key.as_bytes())[..4], 16).unwrap_or(0) % 1000;
        (roll < self.config.failure_per_mille).then(|| {
            "The transaction was dropped by the network (simulated random failure). Pay this row again.".to_string()
        })
    }

    fn state_of(&self, row: &sim::SimTransferRow, now: NaiveDateTime) -> TxState {
        if let Some(reason) = &row.fail_reason {
            if now - row.submitted_at >= self.confirm_after() {
                return TxState::Failed { reason: reason.clone() };
            }
            return TxState::Pending { confirmations: 0 };
        }
        let elapsed = (now - row.submitted_at).to_std().unwrap_or_default();
        if elapsed >= self.config.confirm_after {
            return TxState::Confirmed { confirmations: self.config.confirmations, network_fee: None };
        }
        let step = self.config.confirm_after.as_millis().max(1) / u128::from(self.config.confirmations.max(1));
        TxState::Pending { confirmations: (elapsed.as_millis() / step.max(1)) as u32 }
    }

    fn confirm_after(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.confirm_after).unwrap_or_default()
    }

    /// Everything the network ever sent, for tests and the demo.
    pub fn sent(&self) -> Result<Vec<sim::SimTransferRow>, RailError> {
        let mut conn = self.pool.get().map_err(|e| RailError::Unavailable(e.to_string()))?;
        sim::all(&mut conn).map_err(|e| RailError::Unavailable(e.to_string()))
    }
}

impl Rail for SimulatedRail {
    fn label(&self) -> &'static str {
        "simulated network"
    }

    fn supports_batch(&self) -> bool {
        true
    }

    fn submit(&self, transfers: &[Transfer]) -> Result<Vec<RailTx>, RailError> {
        let unavailable = |e: String| RailError::Unavailable(e);
        let mut conn = self.pool.get().map_err(|e| unavailable(e.to_string()))?;
        let now = self.clock.now();
        // A batch is one transaction: its hash covers every key in it.
        let keys: Vec<&str> = transfers.iter().map(|t| t.key.as_str()).collect();
        let digest = crypto::sha256_hex(keys.join("\n").as_bytes());
        // Written the way each network writes its hashes: EVM chains with 0x, Solana's
        // signatures (64 bytes) in base58, the others bare hex.
        use crate::domain::asset::AddressFamily;
        let tx_hash = match transfers.first().map(|t| t.asset.family) {
            Some(AddressFamily::Evm) => format!("0x{digest}"),
            Some(AddressFamily::Solana) => {
                let signature = format!("{digest}{}", crypto::sha256_hex(digest.as_bytes()));
                bs58::encode(hex::decode(signature).unwrap_or_default()).into_string()
            }
            _ => digest,
        };
        let rows: Vec<sim::NewSimTransfer> = transfers
            .iter()
            .map(|t| sim::NewSimTransfer {
                key: &t.key,
                tx_hash: &tx_hash,
                asset: t.asset.code,
                address: &t.address,
                amount: t.amount.to_string(),
                fail_reason: self.failure_reason(t),
                submitted_at: now,
            })
            .collect();
        // The network refuses a key it has seen: the first transaction stands.
        let stored = sim::insert_once(&mut conn, &rows).map_err(|e| unavailable(e.to_string()))?;
        let by_key: HashMap<&str, &sim::SimTransferRow> = stored.iter().map(|r| (r.key.as_str(), r)).collect();
        transfers
            .iter()
            .map(|t| {
                let row =
                    by_key.get(t.key.as_str()).ok_or_else(|| unavailable(format!("transfer {} not stored", t.key)))?;
                Ok(RailTx {
                    tx_hash: row.tx_hash.clone(),
                    state: self.state_of(row, now),
                    log_index: None,
                    vout: None,
                    instruction: None,
                })
            })
            .collect()
    }

    fn lookup(&self, key: &str) -> Result<Option<RailTx>, RailError> {
        self.lookup_many(&[key]).pop().unwrap_or(Ok(None))
    }

    fn lookup_many(&self, keys: &[&str]) -> Vec<Result<Option<RailTx>, RailError>> {
        let found = self
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| db::sim::find_many(&mut conn, keys).map_err(|e| e.to_string()));
        let rows = match found {
            Ok(rows) => rows,
            Err(e) => return keys.iter().map(|_| Err(RailError::Unavailable(e.clone()))).collect(),
        };
        let now = self.clock.now();
        let by_key: HashMap<&str, &sim::SimTransferRow> = rows.iter().map(|r| (r.key.as_str(), r)).collect();
        keys.iter()
            .map(|k| {
                Ok(by_key.get(k).map(|row| RailTx {
                    state: self.state_of(row, now),
                    tx_hash: row.tx_hash.clone(),
                    log_index: None,
                    vout: None,
                    instruction: None,
                }))
            })
            .collect()
    }
}
