//! What the UTXO rail asks the node about the chain and its own transactions: the fee rate, the
//! height, a transaction's depth, the mempool, and broadcasting stored bytes.

use serde_json::{Value, json};

use super::UtxoNode;
use super::build::sats;
use super::rpc::{NodeRpc, RpcError};

/// Bitcoin Core's error code for a transaction its wallet does not know.
const NOT_IN_WALLET: i64 = -5;

/// A signed transaction's outputs as the node decodes them: (address, satoshis) by index.
pub type Outputs = Vec<(Option<String>, u64)>;

impl UtxoNode {
    /// The fee rate to pay now, in sat/vB: the node's estimate for the configured target, or the
    /// configured fallback while it has none; Err (with the reason) when it is above the cap or
    /// nothing can be said.
    pub fn fee_rate(&self, rpc: &NodeRpc) -> Result<u64, String> {
        let rate = self.estimate(rpc)?;
        if rate > self.config.max_fee_rate_sat_vb {
            return Err(format!(
                "the network's fee rate is {rate} sat/vB, above the cap of {} sat/vB: the rows wait",
                self.config.max_fee_rate_sat_vb
            ));
        }
        Ok(rate)
    }

    /// The node's estimate (or the fallback), uncapped.
    pub fn estimate(&self, rpc: &NodeRpc) -> Result<u64, String> {
        let answer = rpc.node("estimatesmartfee", json!([self.config.fee_target_blocks])).map_err(|e| e.to_string())?;
        // A rate in coins per 1,000 vB; rounded up so a transaction never pays under it.
        match answer.get("feerate").and_then(sats) {
            Some(per_kvb) => Ok(per_kvb.div_ceil(1000).max(1)),
            None => self.config.fallback_fee_rate_sat_vb.ok_or_else(|| {
                "the node has no fee estimate yet (set fallback_fee_rate_sat_vb to pay meanwhile): the rows wait"
                    .to_owned()
            }),
        }
    }

    pub fn height(&self) -> Result<i64, RpcError> {
        self.rpc.node("getblockcount", json!([]))?.as_i64().ok_or_else(|| RpcError::Transport("getblockcount".into()))
    }

    /// How deep `txid` is: Some(n ≥ 1) mined n blocks ago, Some(0) unconfirmed, a negative count
    /// when a conflicting transaction was mined, None when the wallet never saw it.
    pub fn depth(&self, txid: &str) -> Result<Option<i64>, RpcError> {
        match self.rpc.wallet("gettransaction", json!([txid])) {
            Ok(tx) => Ok(Some(tx.get("confirmations").and_then(Value::as_i64).unwrap_or(0))),
            Err(RpcError::Node { code: NOT_IN_WALLET, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn in_mempool(&self, txid: &str) -> Result<bool, RpcError> {
        match self.rpc.node("getmempoolentry", json!([txid])) {
            Ok(_) => Ok(true),
            Err(RpcError::Node { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Broadcasts stored bytes; a node that has them already counts as done.
    pub fn broadcast(&self, hex: &str) -> Result<(), RpcError> {
        match self.rpc.node("sendrawtransaction", json!([hex])) {
            Ok(_) => Ok(()),
            Err(RpcError::Node { message, .. }) if message.contains("already") || message.contains("known") => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn decode(&self, hex: &str) -> Result<Value, RpcError> {
        self.rpc.node("decoderawtransaction", json!([hex]))
    }

    /// The coins a signed transaction spends, as `lockunspent` and `createpsbt` name them:
    /// `{"txid", "vout"}` each.
    pub fn inputs(&self, hex: &str) -> Result<Vec<Value>, RpcError> {
        let decoded = self.decode(hex)?;
        Ok(decoded
            .get("vin")
            .and_then(Value::as_array)
            .map(|vin| vin.iter().map(|i| json!({"txid": i.get("txid"), "vout": i.get("vout")})).collect())
            .unwrap_or_default())
    }

    /// Each row's output in the signed transaction `hex`, by the rows' keys; None when some row
    /// has none.
    pub fn place(
        &self,
        hex: &str,
        rows: &[crate::db::utxo::UtxoRowRow],
    ) -> Result<Option<Vec<(String, u32)>>, RpcError> {
        let outputs = self.outputs(hex)?;
        let wanted: Vec<(&str, u64)> = rows.iter().map(|r| (r.address.as_str(), r.amount_sat as u64)).collect();
        Ok(place_rows(&outputs, &wanted)
            .map(|placed| rows.iter().map(|r| r.idempotency_key.clone()).zip(placed).collect()))
    }

    /// The outputs of a signed transaction.
    pub fn outputs(&self, hex: &str) -> Result<Outputs, RpcError> {
        let decoded = self.decode(hex)?;
        let vout = decoded.get("vout").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(vout
            .iter()
            .map(|o| {
                let script = o.get("scriptPubKey").unwrap_or(&Value::Null);
                // Bitcoin Core 22+ writes `address`; 0.21 (and Litecoin Core) `addresses`.
                let address = script
                    .get("address")
                    .or_else(|| script.get("addresses").and_then(|a| a.get(0)))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (address, o.get("value").and_then(sats).unwrap_or(0))
            })
            .collect())
    }

    /// Locks the inputs of stored transactions in the wallet again: a node forgets its locks
    /// when it restarts, and a transaction stored but not yet broadcast must not lose its inputs
    /// to the next one built.
    pub fn lock_inputs(&self, hex: &str) -> Result<(), RpcError> {
        match self.rpc.wallet("lockunspent", json!([false, self.inputs(hex)?])) {
            Ok(_) => Ok(()),
            // Spent already (broadcast and seen), or locked: nothing to hold.
            Err(RpcError::Node { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Which output pays each row, for rows given in order as (address, satoshis): the outputs are
/// walked in order and a row takes the first unused one paying its address (as stored: bech32
/// lower case, base58 exact) its amount; None when some row
/// has no output (a cancellation, which pays the wallet itself).
pub fn place_rows(outputs: &Outputs, rows: &[(&str, u64)]) -> Option<Vec<u32>> {
    let mut used = vec![false; outputs.len()];
    rows.iter()
        .map(|(address, amount)| {
            let n = outputs
                .iter()
                .enumerate()
                .position(|(n, (a, v))| !used[n] && *v == *amount && a.as_deref() == Some(*address))?;
            used[n] = true;
            Some(n as u32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_placed_on_their_own_outputs_whatever_the_order() {
        let outputs: Outputs =
            vec![(Some("change".into()), 9), (Some("a".into()), 5), (Some("b".into()), 5), (Some("a".into()), 5)];
        assert_eq!(place_rows(&outputs, &[("a", 5), ("b", 5), ("a", 5)]), Some(vec![1, 2, 3]));
        assert_eq!(place_rows(&outputs, &[("A", 5)]), None, "base58 addresses differ by case");
        assert_eq!(place_rows(&outputs, &[("a", 5), ("a", 5), ("a", 5)]), None, "two outputs pay a, not three");
        assert_eq!(place_rows(&outputs, &[("b", 6)]), None, "an amount must match to the satoshi");
    }
}
