//! The UTXO family as a [`Rail`]: a payout's rows go out as one transaction (chunks of at most
//! `max_outputs`), each stored with its rows' outputs before it is broadcast, and followed by
//! its txid until it is deep enough — or replaced, cancelled, or dropped by a reorg and sent
//! again (follow.rs).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::UtxoNode;
use super::build::{BuildError, Output};
use super::config::UtxoConfig;
use super::rpc::{NodeRpc, RpcError};
use crate::clock::Clock;
use crate::db::utxo::{UtxoRowRow, UtxoTxRow};
use crate::db::{self, Pool};
use crate::domain::{Amount, Asset};
use crate::rails::family::{Connected, Setup};
use crate::rails::{GasOutlook, NetworkFee, OpenRows, Rail, RailError, RailTx, Transfer, TxState, WalletView};

pub struct UtxoRail {
    pub(super) node: UtxoNode,
    /// For the pages: a node that does not answer must not hold a page for long.
    display: NodeRpc,
    pub(super) pool: Pool,
    pub(super) clock: Clock,
    /// The wallet's address for topping it up, shown beside its balance (labelled on the node,
    /// so every start shows the same one).
    funding: String,
    /// The height at which each stuck transaction's replacement was last tried.
    pub(super) bumps_tried: std::sync::Mutex<HashMap<String, i64>>,
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> RailError {
    RailError::Unavailable(e.to_string())
}

/// The UTXO family's entry in `rails::family`: `--chain-config utxo=FILE` connected, the node's
/// chain and wallet checked, the inputs of transactions stored but not settled locked again, and
/// (on a test or regtest node only) that network's addresses accepted.
pub fn connect_file(file: &std::path::Path, setup: &Setup) -> Result<Connected, String> {
    let config = UtxoConfig::load(file)?;
    let node = UtxoNode::connect(config).map_err(|e| format!("{}: {e}", file.display()))?;
    let rail = UtxoRail::new(node, setup.pool.clone(), setup.clock.clone())?;
    rail.relock().map_err(|e| format!("{}: {e}", file.display()))?;
    let wallet = format!("wallet {:?} on {}", rail.node.config.wallet, rail.node.config.rpc_url);
    let explorer_tx = rail.node.config.explorer_tx.clone();
    Ok(Connected { assets: vec![rail.node.config.asset.code.to_owned()], wallet, rail: Arc::new(rail), explorer_tx })
}

const FUNDING_LABEL: &str = "payouts funding";

fn funding_address(node: &UtxoNode) -> Result<String, RpcError> {
    if let Ok(Value::Object(found)) = node.rpc.wallet("getaddressesbylabel", serde_json::json!([FUNDING_LABEL]))
        && let Some(address) = found.keys().min()
    {
        return Ok(address.clone());
    }
    let made = node.rpc.wallet("getnewaddress", serde_json::json!([FUNDING_LABEL]))?;
    made.as_str().map(str::to_owned).ok_or_else(|| RpcError::Transport("getnewaddress".into()))
}

/// Estimated virtual size of a transaction with one input and `outputs` P2WPKH outputs plus
/// change: what the review shows before anything is built.
fn estimated_vbytes(outputs: usize) -> u64 {
    11 + 68 + 31 * (outputs as u64 + 1)
}

impl UtxoRail {
    pub fn new(node: UtxoNode, pool: Pool, clock: Clock) -> Result<UtxoRail, String> {
        let secret = node.config.credentials.read()?;
        let display = NodeRpc::new(&node.config.rpc_url, &node.config.wallet, &secret, Duration::from_secs(3));
        let hrp = match (node.config.asset.code, node.config.network) {
            (_, super::config::Network::Main) => None,
            ("BTC", super::config::Network::Test) => Some("tb"),
            ("BTC", _) => Some("bcrt"),
            (_, super::config::Network::Test) => Some("tltc"),
            _ => Some("rltc"),
        };
        if let Some(hrp) = hrp {
            crate::domain::address::accept_test_network(hrp);
        }
        let funding = funding_address(&node).map_err(|e| format!("node {}: {e}", node.config.rpc_url))?;
        Ok(UtxoRail { node, display, pool, clock, funding, bumps_tried: Default::default() })
    }

    pub fn config(&self) -> &UtxoConfig {
        &self.node.config
    }

    fn asset(&self) -> &'static Asset {
        self.node.config.asset
    }

    fn relock(&self) -> Result<(), String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let stored = db::utxo::unsettled(&mut conn, self.asset().code, 10_000).map_err(|e| e.to_string())?;
        drop(conn);
        for tx in stored {
            self.node.lock_inputs(&tx.raw_tx).map_err(|e| format!("node {}: {e}", self.node.config.rpc_url))?;
        }
        Ok(())
    }

    pub(super) fn sat(&self, amount: Amount) -> Result<u64, RailError> {
        if amount.asset().code != self.asset().code {
            return Err(unavailable(format!("{} is not paid by this {} rail", amount.asset().code, self.asset().code)));
        }
        u64::try_from(amount.minor()).map_err(|_| unavailable("negative amount"))
    }

    fn coins(&self, sat: i64) -> Amount {
        Amount::from_minor(self.asset(), i128::from(sat))
    }

    /// Builds, stores and broadcasts one transaction paying `chunk`. Err when nothing was stored.
    fn send_chunk(&self, chunk: &[Transfer], fee_rate: u64) -> Result<Vec<RailTx>, SendError> {
        let outputs: Vec<Output> =
            chunk.iter().map(|t| Output { address: t.address.clone(), amount: t.amount }).collect();
        for t in chunk {
            if self.sat(t.amount)? < self.node.config.dust_limit_sat {
                return Err(SendError::Rail(unavailable(format!(
                    "{} is under the dust limit of {} satoshis: the network would not relay it",
                    t.amount, self.node.config.dust_limit_sat
                ))));
            }
        }
        let height = self.node.height().map_err(unavailable)?;
        let signed = match self.node.build(&outputs, fee_rate) {
            Ok(s) => s,
            Err(BuildError::Rpc(RpcError::Node { message, .. })) if message.contains("too large") => {
                return Err(SendError::TooLarge);
            }
            Err(BuildError::Rpc(RpcError::Node { message, .. })) if message.contains("nsufficient funds") => {
                return Err(SendError::Rail(unavailable(format!(
                    "the node wallet {:?} holds too little {} for these {} rows and their fee: they wait until it \
                     is funded",
                    self.node.config.wallet,
                    self.asset().code,
                    chunk.len()
                ))));
            }
            Err(e) => return Err(SendError::Rail(unavailable(e))),
        };
        let tx_key = chunk[0].key.clone();
        let tx = UtxoTxRow {
            tx_key: tx_key.clone(),
            coin: self.asset().code.to_owned(),
            txid: signed.txid.clone(),
            raw_tx: signed.hex.clone(),
            fee_sat: signed.fee_sat as i64,
            vsize: signed.vsize as i64,
            signed_height: height,
            created_at: self.clock.now(),
            cancel_requested_at: None,
            cancels: false,
        };
        let mut rows = Vec::with_capacity(chunk.len());
        for (n, (t, vout)) in chunk.iter().zip(&signed.vouts).enumerate() {
            rows.push(UtxoRowRow {
                idempotency_key: t.key.clone(),
                tx_key: tx_key.clone(),
                row_index: n as i32,
                address: t.address.clone(),
                amount_sat: self.sat(t.amount)? as i64,
                vout: *vout as i32,
            });
        }
        let stored = self.pool.get().map_err(unavailable).and_then(|mut c| {
            db::utxo::insert(&mut c, &tx, &rows).map_err(|e| {
                if db::is_unique_violation(&e) {
                    unavailable("another processor sent some of these rows; they are looked up instead")
                } else {
                    unavailable(e)
                }
            })
        });
        if let Err(e) = stored {
            // Never broadcast: its inputs go back to the wallet.
            if let Err(release) = self.node.release(&signed.hex) {
                tracing::warn!(error = %release, "could not unlock the inputs of a transaction not stored");
            }
            return Err(SendError::Rail(e));
        }
        if let Err(e) = self.node.broadcast(&signed.hex) {
            // Stored: the look-up after this sends the same bytes again or finds them.
            tracing::warn!(txid = %signed.txid, error = %e, "broadcast failed; it will be retried by look-up");
        }
        Ok(signed
            .vouts
            .iter()
            .map(|vout| RailTx {
                tx_hash: signed.txid.clone(),
                state: TxState::Pending { confirmations: 0 },
                log_index: None,
                vout: Some(*vout),
                instruction: None,
            })
            .collect())
    }
}

enum SendError {
    /// Too many outputs (or inputs) for one standard transaction: the chunk is split.
    TooLarge,
    Rail(RailError),
}

impl From<RailError> for SendError {
    fn from(e: RailError) -> Self {
        SendError::Rail(e)
    }
}

impl Rail for UtxoRail {
    fn label(&self) -> &'static str {
        match self.asset().code {
            "BTC" => "Bitcoin network",
            _ => "Litecoin network",
        }
    }

    fn pays(&self, asset: &'static Asset) -> bool {
        asset.code == self.asset().code
    }

    fn supports_batch(&self) -> bool {
        true
    }

    /// All rows in one transaction, in chunks of at most `max_outputs` (halved while the node
    /// finds one too large). A wallet that cannot pay a chunk sends nothing of it: its rows and
    /// the rest wait.
    fn submit(&self, transfers: &[Transfer]) -> Result<Vec<RailTx>, RailError> {
        let fee_rate = self.node.fee_rate(&self.node.rpc).map_err(unavailable)?;
        let mut sent: Vec<RailTx> = Vec::with_capacity(transfers.len());
        let mut size = self.node.config.max_outputs;
        while sent.len() < transfers.len() {
            let chunk = &transfers[sent.len()..(sent.len() + size).min(transfers.len())];
            match self.send_chunk(chunk, fee_rate) {
                Ok(txs) => sent.extend(txs),
                Err(SendError::TooLarge) if size > 1 => size = chunk.len().div_ceil(2),
                Err(SendError::TooLarge) => return Err(unavailable("one output is too large a transaction")),
                Err(SendError::Rail(e)) if sent.is_empty() => return Err(e),
                Err(SendError::Rail(e)) => {
                    tracing::warn!(error = %e, "the rest of the payout waits");
                    break;
                }
            }
        }
        Ok(sent)
    }

    fn lookup(&self, key: &str) -> Result<Option<RailTx>, RailError> {
        self.lookup_many(&[key]).pop().unwrap_or(Ok(None))
    }

    /// One question to the node per transaction (per version while it is unconfirmed), however
    /// many rows it pays; a node that cannot answer about one fails only that one's rows.
    fn lookup_many(&self, keys: &[&str]) -> Vec<Result<Option<RailTx>, RailError>> {
        let stored = self.pool.get().map_err(unavailable).and_then(|mut conn| {
            let rows = db::utxo::rows_of(&mut conn, keys).map_err(unavailable)?;
            let mut tx_keys: Vec<&str> = rows.iter().map(|r| r.tx_key.as_str()).collect();
            tx_keys.sort_unstable();
            tx_keys.dedup();
            let txs = db::utxo::find_many(&mut conn, &tx_keys).map_err(unavailable)?;
            Ok((rows, txs))
        });
        let (rows, txs) = match stored {
            Ok(found) => found,
            Err(e) => return keys.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut answers: HashMap<String, Result<Option<RailTx>, RailError>> = HashMap::new();
        for tx in &txs {
            let mine: Vec<&UtxoRowRow> = rows.iter().filter(|r| r.tx_key == tx.tx_key).collect();
            match self.follow(tx) {
                Ok(standing) => {
                    for row in mine {
                        answers.insert(row.idempotency_key.clone(), Ok(Some(standing.answer(row, self.asset()))));
                    }
                }
                Err(e) => {
                    tracing::warn!(txid = %tx.txid, error = %e, "could not follow a stored transaction");
                    for row in mine {
                        answers.insert(row.idempotency_key.clone(), Err(e.clone()));
                    }
                }
            }
        }
        keys.iter().map(|k| answers.remove(*k).unwrap_or(Ok(None))).collect()
    }

    fn wallet(&self, asset: &'static Asset) -> Option<WalletView> {
        if !self.pays(asset) {
            return None;
        }
        Some(WalletView {
            asset,
            address: self.funding.clone(),
            on_chain: self.balance(&self.display).map_err(|e| e.to_string()),
        })
    }

    fn network_fee(&self, asset: &'static Asset, addresses: &[&str], _: bool) -> Option<Result<NetworkFee, String>> {
        let transfers = addresses.len();
        if !self.pays(asset) {
            return None;
        }
        Some(self.node.estimate(&self.display).map(|rate| {
            let per_tx = self.node.config.max_outputs.max(1);
            let chunks = transfers.div_ceil(per_tx).max(1);
            let vbytes: u64 = (0..chunks).map(|c| estimated_vbytes((transfers - c * per_tx).min(per_tx).max(1))).sum();
            NetworkFee::plain(self.coins((vbytes * rate) as i64), transfers, chunks)
        }))
    }

    fn gas_outlook(&self, open: &[OpenRows]) -> Option<Result<GasOutlook, String>> {
        let mine = open.iter().find(|o| self.pays(o.asset))?;
        let outlook = || -> Result<GasOutlook, String> {
            let held = self.balance(&self.display).map_err(|e| e.to_string())?;
            let rate = self.node.estimate(&self.display)?.min(self.node.config.max_fee_rate_sat_vb);
            Ok(GasOutlook {
                coin: self.asset(),
                address: self.funding.clone(),
                held,
                gas: self.coins((estimated_vbytes(mine.rows) * rate) as i64),
                value: mine.value,
            })
        };
        Some(outlook())
    }
}

impl UtxoRail {
    /// What the wallet can spend now: its confirmed coins and its own unconfirmed change.
    fn balance(&self, rpc: &NodeRpc) -> Result<Amount, RpcError> {
        let balances = rpc.wallet("getbalances", serde_json::json!([]))?;
        let trusted = balances.get("mine").and_then(|m| m.get("trusted")).and_then(super::build::sats);
        trusted.map(|s| self.coins(s as i64)).ok_or_else(|| RpcError::Transport("getbalances".into()))
    }
}
