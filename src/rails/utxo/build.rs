//! A payout's rows as one transaction: one output per row in row order, funded and signed by the
//! node's wallet through a PSBT (`walletcreatefundedpsbt` → `walletprocesspsbt` →
//! `finalizepsbt`), opting in to replacement (BIP 125) and with its inputs locked to it in the
//! wallet, so that nothing else spends them while it is unconfirmed. Nothing is broadcast here:
//! the caller stores the bytes first.

use serde_json::{Value, json};

use super::UtxoNode;
use super::rpc::RpcError;
use crate::domain::Amount;

/// One row's output.
#[derive(Debug, Clone)]
pub struct Output {
    pub address: String,
    pub amount: Amount,
}

/// A signed transaction, not yet broadcast.
#[derive(Debug, Clone)]
pub struct Signed {
    pub txid: String,
    /// The whole transaction, hex, as broadcast.
    pub hex: String,
    /// Each row's output index, in the rows' order (the wallet's change output sits among them).
    pub vouts: Vec<u32>,
    /// What the transaction pays the network, in satoshis.
    pub fee_sat: u64,
    pub vsize: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The node answered something this rail cannot use; nothing was signed for broadcast.
    #[error("the node's answer to {0} was not understood")]
    Answer(&'static str),
    #[error("the node could not sign every input of the transaction")]
    Incomplete,
}

/// A node's amount (a JSON number of whole coins with at most 8 decimals) in satoshis. The f64
/// nearest any amount below 21 million coins lies within a fifth of a satoshi of it, and writing
/// it with 8 decimals rounds correctly, so the digits written are the node's.
pub(super) fn sats(v: &Value) -> Option<u64> {
    let coins = v.as_f64().filter(|c| c.is_finite() && *c >= 0.0 && *c < 21e6)?;
    let text = format!("{coins:.8}");
    let (whole, fraction) = text.split_once('.')?;
    whole.parse::<u64>().ok()?.checked_mul(100_000_000)?.checked_add(fraction.parse().ok()?)
}

impl UtxoNode {
    /// Funds, signs and finalizes one transaction paying `outputs` at `fee_rate_sat_vb`. Amounts
    /// go to the node as decimal strings, never as floating point.
    pub fn build(&self, outputs: &[Output], fee_rate_sat_vb: u64) -> Result<Signed, BuildError> {
        let targets: Vec<Value> = outputs.iter().map(|o| json!({ o.address.clone(): o.amount.to_string() })).collect();
        let options = json!({"fee_rate": fee_rate_sat_vb, "lockUnspents": true, "replaceable": true});
        let funded = self.rpc.wallet("walletcreatefundedpsbt", json!([[], targets, 0, options, true]))?;
        let psbt = funded.get("psbt").and_then(Value::as_str).ok_or(BuildError::Answer("walletcreatefundedpsbt"))?;
        let change =
            funded.get("changepos").and_then(Value::as_i64).ok_or(BuildError::Answer("walletcreatefundedpsbt"))?;
        let processed = self.rpc.wallet("walletprocesspsbt", json!([psbt, true, "ALL", true]))?;
        let signed = processed.get("psbt").and_then(Value::as_str).ok_or(BuildError::Answer("walletprocesspsbt"))?;
        let finalized = self.rpc.node("finalizepsbt", json!([signed, true]))?;
        if finalized.get("complete") != Some(&Value::Bool(true)) {
            return Err(BuildError::Incomplete);
        }
        let hex = finalized.get("hex").and_then(Value::as_str).ok_or(BuildError::Answer("finalizepsbt"))?.to_owned();
        let decoded = self.rpc.node("decoderawtransaction", json!([hex]))?;
        let txid = decoded.get("txid").and_then(Value::as_str).ok_or(BuildError::Answer("decoderawtransaction"))?;
        let vsize = decoded.get("vsize").and_then(Value::as_u64).ok_or(BuildError::Answer("decoderawtransaction"))?;
        let fee_sat = funded.get("fee").and_then(sats).ok_or(BuildError::Answer("walletcreatefundedpsbt"))?;
        // The wallet keeps the outputs in the order given and puts its change at `changepos`.
        let vouts =
            (0..outputs.len() as u32).map(|i| if change >= 0 && i64::from(i) >= change { i + 1 } else { i }).collect();
        Ok(Signed { txid: txid.to_owned(), hex, vouts, fee_sat, vsize })
    }

    /// Gives the inputs of a transaction that will not be broadcast back to the wallet.
    pub fn release(&self, hex: &str) -> Result<(), RpcError> {
        self.rpc.wallet("lockunspent", json!([true, self.inputs(hex)?])).map(drop)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_amounts_are_read_to_the_satoshi() {
        use serde_json::json;
        for (v, s) in
            [(json!(0.00000001), 1), (json!(20999999.99999999), 2_099_999_999_999_999), (json!(0.1), 10_000_000)]
        {
            assert_eq!(super::sats(&v), Some(s), "{v}");
        }
        assert_eq!(super::sats(&json!(-1)), None);
        assert_eq!(super::sats(&json!("0.1")), None);
    }
}
