//! Following a stored transaction until it is deep enough: which of its versions (the first,
//! its fee-bumped replacements, a manager's cancellation) the chain mined, and how deep; the
//! stored bytes sent again when the node lost them (a restart, a reorg that dropped them, a
//! crash before the first broadcast); a replacement with a higher fee when it is stuck; a
//! cancellation when a manager asked. Every version spends the same inputs, so at most one can
//! ever be mined, and every version is kept, so whichever is mined is recognised.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::rail::{UtxoRail, unavailable};
use super::rpc::RpcError;
use crate::db::utxo::{UtxoRowRow, UtxoTxRow};
use crate::db::{self};
use crate::domain::Amount;
use crate::rails::{RailError, RailTx, TxState};

/// BIP 125's sequence number: the input (and so the transaction) may be replaced.
const REPLACEABLE: u32 = 0xffff_fffd;

/// The least a fee bump adds, in sat/vB: the wallet's incremental relay fee.
const WALLET_INCREMENT: u64 = 5;

/// What stands for a stored transaction now, and how to answer for each of its rows.
pub(super) struct Standing {
    txid: String,
    state: Depth,
    /// Each row's output in the standing version, when it is not the stored one.
    vouts: Option<HashMap<String, u32>>,
}

enum Depth {
    Pending(u32),
    /// Deep enough: the fee paid and the rows sharing it.
    Paid {
        confirmations: u32,
        fee_sat: i64,
        rows: i64,
    },
    /// A manager's cancellation is deep enough: nothing was paid.
    Cancelled,
    /// Its inputs went to a transaction that is none of its versions, confirmed deep enough.
    Spent,
}

impl Standing {
    fn pending(txid: &str, confirmations: u32) -> Standing {
        Standing { txid: txid.to_owned(), state: Depth::Pending(confirmations), vouts: None }
    }

    pub(super) fn answer(&self, row: &UtxoRowRow, coin: &'static crate::domain::Asset) -> RailTx {
        let vout = self.vouts.as_ref().map_or(Some(row.vout as u32), |v| v.get(&row.idempotency_key).copied());
        let state = match &self.state {
            Depth::Pending(confirmations) => TxState::Pending { confirmations: *confirmations },
            Depth::Paid { confirmations, fee_sat, rows } => {
                // The transaction's fee shared by its rows; what does not divide goes to the first.
                let rows = (*rows).max(1);
                let share = fee_sat / rows + if row.row_index == 0 { fee_sat % rows } else { 0 };
                TxState::Confirmed {
                    confirmations: *confirmations,
                    network_fee: Some(Amount::from_minor(coin, i128::from(share))),
                }
            }
            Depth::Spent => TxState::Failed {
                reason: "The wallet's coins this transaction spent went to another transaction (spent outside this \
                         product, or by a node restored from a backup); this one can never confirm, and nothing \
                         was paid."
                    .into(),
            },
            Depth::Cancelled => TxState::Failed {
                reason: "Cancelled by a manager while it was unconfirmed: a transaction paying the wallet itself \
                         took its place on chain; nothing was paid."
                    .into(),
            },
        };
        let paid = matches!(self.state, Depth::Paid { .. });
        RailTx {
            tx_hash: self.txid.clone(),
            state,
            log_index: None,
            vout: if paid { vout } else { None },
            instruction: None,
        }
    }
}

/// One signed version of a stored transaction.
struct Version<'a> {
    txid: &'a str,
    raw: &'a str,
    fee_sat: i64,
    cancels: bool,
}

impl UtxoRail {
    pub(super) fn follow(&self, tx: &UtxoTxRow) -> Result<Standing, RailError> {
        let earlier = {
            let mut conn = self.pool.get().map_err(unavailable)?;
            db::utxo::replaced_of(&mut conn, &tx.tx_key).map_err(unavailable)?
        };
        let current = Version { txid: &tx.txid, raw: &tx.raw_tx, fee_sat: tx.fee_sat, cancels: tx.cancels };
        let versions: Vec<Version> = std::iter::once(current)
            .chain(earlier.iter().map(|(txid, raw, fee_sat)| Version { txid, raw, fee_sat: *fee_sat, cancels: false }))
            .collect();
        let mut depths = Vec::with_capacity(versions.len());
        for version in &versions {
            let depth = self.node.depth(version.txid).map_err(unavailable)?;
            if let Some(depth) = depth
                && depth >= 1
            {
                return self.mined(tx, version, depth as u32);
            }
            depths.push(depth);
        }
        // Every version spends the first one's inputs: when each is known to conflict with a
        // transaction confirmed as deep as a payment must be (the wallet spent those coins
        // elsewhere), none can ever confirm, and nothing was paid.
        let deep = -i64::from(self.config().confirmations);
        if depths.iter().all(|d| d.is_some_and(|d| d <= deep)) {
            return Ok(Standing { txid: tx.txid.clone(), state: Depth::Spent, vouts: None });
        }
        if tx.cancel_requested_at.is_some() && !tx.cancels {
            match self.cancel(tx) {
                Ok(txid) => return Ok(Standing::pending(&txid, 0)),
                Err(e) => tracing::warn!(txid = %tx.txid, error = %e, "could not cancel; trying again next round"),
            }
        }
        if self.node.in_mempool(&tx.txid).map_err(unavailable)? {
            return Ok(Standing::pending(&self.replace_if_due(tx)?, 0));
        }
        // Neither mined nor waiting: the node lost it (a restart, a reorg, a crash before the
        // first broadcast). The same bytes go again.
        match self.node.broadcast(&tx.raw_tx) {
            Ok(()) => Ok(Standing::pending(&tx.txid, 0)),
            Err(RpcError::Node { message, .. }) => {
                // An earlier version may still hold the inputs (the network refused the replacement).
                for version in versions.iter().skip(1) {
                    if self.node.in_mempool(version.txid).map_err(unavailable)? {
                        return Ok(Standing::pending(version.txid, 0));
                    }
                }
                Err(unavailable(format!("the node refuses transaction {}: {message}", tx.txid)))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    fn mined(&self, tx: &UtxoTxRow, version: &Version, depth: u32) -> Result<Standing, RailError> {
        let deep = depth >= self.config().confirmations;
        if version.cancels {
            let state = if deep { Depth::Cancelled } else { Depth::Pending(depth) };
            return Ok(Standing { txid: version.txid.to_owned(), state, vouts: None });
        }
        if !deep {
            return Ok(Standing::pending(version.txid, depth));
        }
        let rows = {
            let mut conn = self.pool.get().map_err(unavailable)?;
            db::utxo::rows_in(&mut conn, &tx.tx_key).map_err(unavailable)?
        };
        let vouts = if version.txid == tx.txid {
            None
        } else {
            // An earlier version was mined: the rows' outputs in it.
            let placed = self.node.place(version.raw, &rows).map_err(unavailable)?;
            let placed =
                placed.ok_or_else(|| unavailable(format!("transaction {} does not pay every row", version.txid)))?;
            Some(placed.into_iter().collect())
        };
        let fee_sat = version.fee_sat;
        Ok(Standing {
            txid: version.txid.to_owned(),
            state: Depth::Paid { confirmations: depth, fee_sat, rows: rows.len() as i64 },
            vouts,
        })
    }

    /// Stuck for `replace_after_blocks` while the node now estimates more than it paid: a
    /// replacement (BIP 125) with the same outputs at the estimate, never above the cap, stored
    /// before it is broadcast. Returns the txid that stands.
    fn replace_if_due(&self, tx: &UtxoTxRow) -> Result<String, RailError> {
        if tx.cancels || tx.cancel_requested_at.is_some() {
            return Ok(tx.txid.clone());
        }
        let height = self.node.height().map_err(unavailable)?;
        if height - tx.signed_height < i64::from(self.config().replace_after_blocks) {
            return Ok(tx.txid.clone());
        }
        let paid = (tx.fee_sat as u64).div_ceil(tx.vsize.max(1) as u64);
        let Ok(now) = self.node.estimate(&self.node.rpc) else { return Ok(tx.txid.clone()) };
        // The node's wallet bumps by at least its incremental fee (5 sat/vB in Bitcoin Core's
        // and Litecoin Core's wallets), and never past the cap.
        let rate = now.max(paid + WALLET_INCREMENT).min(self.config().max_fee_rate_sat_vb);
        if now <= paid || rate < paid + WALLET_INCREMENT {
            return Ok(tx.txid.clone());
        }
        // A replacement the node refused is tried again at the next block, not every round.
        let mut tried = self.bumps_tried.lock().unwrap_or_else(|e| e.into_inner());
        if tried.get(&tx.txid) == Some(&height) {
            return Ok(tx.txid.clone());
        }
        tried.insert(tx.txid.clone(), height);
        drop(tried);
        match self.replacement(tx, rate, height) {
            Ok(txid) => Ok(txid),
            Err(e) => {
                tracing::warn!(txid = %tx.txid, rate, error = %e, "could not replace a stuck transaction");
                Ok(tx.txid.clone())
            }
        }
    }

    fn replacement(&self, tx: &UtxoTxRow, rate: u64, height: i64) -> Result<String, RailError> {
        let bumped = self.node.rpc.wallet("psbtbumpfee", json!([tx.txid, {"fee_rate": rate}])).map_err(unavailable)?;
        let psbt = bumped.get("psbt").and_then(Value::as_str).ok_or_else(|| unavailable("psbtbumpfee"))?;
        let fee_sat = bumped.get("fee").and_then(super::build::sats).ok_or_else(|| unavailable("psbtbumpfee"))?;
        let (hex, txid, vsize) = self.sign(psbt)?;
        let rows = {
            let mut conn = self.pool.get().map_err(unavailable)?;
            db::utxo::rows_in(&mut conn, &tx.tx_key).map_err(unavailable)?
        };
        let placed = self.node.place(&hex, &rows).map_err(unavailable)?;
        let placed = placed.ok_or_else(|| unavailable("the replacement does not pay every row; it was not stored"))?;
        let vouts: Vec<(String, i32)> = placed.into_iter().map(|(key, vout)| (key, vout as i32)).collect();
        let new = UtxoTxRow {
            txid: txid.clone(),
            raw_tx: hex.clone(),
            fee_sat: fee_sat as i64,
            vsize,
            signed_height: height,
            ..tx.clone()
        };
        self.store_version(tx, &new, &vouts, &hex)?;
        Ok(txid)
    }

    /// A manager's cancellation: the same inputs paid back to the wallet, with a fee above the
    /// original's by the relay increment on its own size, so the network takes it in the
    /// original's place. Returns its txid once stored (and broadcast).
    fn cancel(&self, tx: &UtxoTxRow) -> Result<String, RailError> {
        let mut inputs = self.node.inputs(&tx.raw_tx).map_err(unavailable)?;
        for input in &mut inputs {
            input["sequence"] = json!(REPLACEABLE);
        }
        let back = self.node.rpc.wallet("getrawchangeaddress", json!([])).map_err(unavailable)?;
        let back = back.as_str().ok_or_else(|| unavailable("getrawchangeaddress"))?.to_owned();
        // A first signing tells what the inputs hold (its fee, with a one-satoshi output) and
        // the cancellation's size.
        let draft = self.cancellation(&inputs, &back, 1)?;
        let held = draft.fee + 1;
        let old_rate = (tx.fee_sat as u64).div_ceil(tx.vsize.max(1) as u64);
        // Priced on a size a little above the draft's: the final signatures may each be a byte
        // longer (DER), and a cancellation short of the original's fee plus the relay increment
        // on its own size is refused by the nodes and never takes the original's place.
        let size = draft.vsize.max(0) as u64 + inputs.len() as u64 + 1;
        let fee = (tx.fee_sat as u64 + size).max((old_rate + 1) * size);
        let keep = held.checked_sub(fee).filter(|k| *k >= self.config().dust_limit_sat).ok_or_else(|| {
            unavailable("the inputs cannot pay a cancellation's fee; the transaction is left to confirm")
        })?;
        let signed = self.cancellation(&inputs, &back, keep)?;
        let height = self.node.height().map_err(unavailable)?;
        let new = UtxoTxRow {
            txid: signed.txid.clone(),
            raw_tx: signed.hex.clone(),
            fee_sat: fee as i64,
            vsize: signed.vsize,
            signed_height: height,
            cancels: true,
            ..tx.clone()
        };
        self.store_version(tx, &new, &[], &signed.hex)?;
        Ok(signed.txid)
    }

    fn cancellation(&self, inputs: &[Value], to: &str, keep_sat: u64) -> Result<Cancellation, RailError> {
        let amount = Amount::from_minor(self.config().asset, i128::from(keep_sat)).to_string();
        let psbt = self.node.rpc.node("createpsbt", json!([inputs, [{ to: amount }], 0, true])).map_err(unavailable)?;
        let psbt = psbt.as_str().ok_or_else(|| unavailable("createpsbt"))?;
        let processed =
            self.node.rpc.wallet("walletprocesspsbt", json!([psbt, true, "ALL", true])).map_err(unavailable)?;
        let signed = processed.get("psbt").and_then(Value::as_str).ok_or_else(|| unavailable("walletprocesspsbt"))?;
        let fee = self.node.rpc.node("decodepsbt", json!([signed])).map_err(unavailable)?;
        let fee = fee.get("fee").and_then(super::build::sats).ok_or_else(|| unavailable("decodepsbt"))?;
        let (hex, txid, vsize) = self.sign(signed)?;
        Ok(Cancellation { hex, txid, vsize, fee })
    }

    /// Signs (where not yet) and finalizes a PSBT: (hex, txid, vsize).
    fn sign(&self, psbt: &str) -> Result<(String, String, i64), RailError> {
        let processed =
            self.node.rpc.wallet("walletprocesspsbt", json!([psbt, true, "ALL", true])).map_err(unavailable)?;
        let signed = processed.get("psbt").and_then(Value::as_str).ok_or_else(|| unavailable("walletprocesspsbt"))?;
        let finalized = self.node.rpc.node("finalizepsbt", json!([signed, true])).map_err(unavailable)?;
        if finalized.get("complete") != Some(&Value::Bool(true)) {
            return Err(unavailable("the node could not sign every input"));
        }
        let hex = finalized.get("hex").and_then(Value::as_str).ok_or_else(|| unavailable("finalizepsbt"))?;
        let decoded = self.node.decode(hex).map_err(unavailable)?;
        let txid = decoded.get("txid").and_then(Value::as_str).ok_or_else(|| unavailable("decoderawtransaction"))?;
        let vsize = decoded.get("vsize").and_then(Value::as_i64).ok_or_else(|| unavailable("decoderawtransaction"))?;
        Ok((hex.to_owned(), txid.to_owned(), vsize))
    }

    /// Stores `new` in the place of `old` (kept), locks its inputs, then broadcasts it.
    fn store_version(
        &self,
        old: &UtxoTxRow,
        new: &UtxoTxRow,
        vouts: &[(String, i32)],
        hex: &str,
    ) -> Result<(), RailError> {
        let stored = {
            let mut conn = self.pool.get().map_err(unavailable)?;
            db::utxo::replace(&mut conn, old, new, vouts, self.clock.now()).map_err(unavailable)?
        };
        if !stored {
            return Err(unavailable("another processor replaced it first"));
        }
        if let Err(e) = self.node.lock_inputs(hex) {
            tracing::warn!(txid = %new.txid, error = %e, "could not lock a new version's inputs");
        }
        if let Err(e) = self.node.broadcast(hex) {
            tracing::warn!(txid = %new.txid, error = %e, "broadcast of a new version failed; look-up retries it");
        }
        Ok(())
    }
}

struct Cancellation {
    hex: String,
    txid: String,
    vsize: i64,
    /// What the inputs hold beyond the output, in satoshis.
    fee: u64,
}
