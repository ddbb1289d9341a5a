//! The few JSON-RPC 2.0 calls the Solana rail makes, over the HTTP client the product already
//! uses: a recent blockhash with its last valid height, simulating and sending signed bytes,
//! signature statuses (history searched), balances and accounts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use solana_hash::Hash;

use crate::rails::jsonrpc::Answer;

use super::config::Commitment;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// The node could not be reached or answered garbage: whether a send arrived is unknown.
    #[error("the Solana node is unreachable: {0}")]
    Transport(String),
    /// The node answered with an error (a transaction refused in preflight, a bad parameter).
    #[error("the Solana node refused: {message} (code {code})")]
    Node { code: i64, message: String },
}

/// What the network says of a signature it has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub slot: u64,
    /// processed, confirmed or finalized.
    pub confirmation: String,
    /// The transaction's error when it failed on chain (its fee was still taken).
    pub error: Option<String>,
}

pub struct SolanaRpc {
    url: String,
    agent: ureq::Agent,
    id: AtomicU64,
}

fn answer<'a>(v: &'a Value, field: &'static str) -> Result<&'a Value, RpcError> {
    v.get(field).ok_or_else(|| RpcError::Transport(format!("the answer has no `{field}`")))
}

impl SolanaRpc {
    pub fn new(url: &str, timeout: Duration) -> SolanaRpc {
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        SolanaRpc { url: url.to_owned(), agent, id: AtomicU64::new(1) }
    }

    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        match crate::rails::jsonrpc::exchange(&self.agent, &self.url, None, method, &body) {
            Ok(Answer::Result(result)) => Ok(result),
            Ok(Answer::Error { code, message }) => Err(RpcError::Node { code, message }),
            Ok(Answer::Unauthorized) => Err(RpcError::Transport(format!("{method}: HTTP 401"))),
            Err(e) => Err(RpcError::Transport(e)),
        }
    }

    /// A recent blockhash and the last block height at which a transaction carrying it lands.
    pub fn latest_blockhash(&self, commitment: Commitment) -> Result<(Hash, u64), RpcError> {
        let result = self.call("getLatestBlockhash", json!([{"commitment": commitment.as_str()}]))?;
        let value = answer(&result, "value")?;
        let hash = answer(value, "blockhash")?.as_str().unwrap_or_default();
        let bytes: [u8; 32] = bs58::decode(hash)
            .into_vec()
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| RpcError::Transport(format!("getLatestBlockhash: {hash:?} is no blockhash")))?;
        let last = answer(value, "lastValidBlockHeight")?.as_u64().unwrap_or_default();
        Ok((Hash::new_from_array(bytes), last))
    }

    pub fn block_height(&self, commitment: Commitment) -> Result<u64, RpcError> {
        let result = self.call("getBlockHeight", json!([{"commitment": commitment.as_str()}]))?;
        result.as_u64().ok_or_else(|| RpcError::Transport("getBlockHeight".into()))
    }

    /// Sends signed bytes (the node simulates them first and refuses what would fail); the
    /// signature the node names them by.
    pub fn send(&self, bytes: &[u8]) -> Result<String, RpcError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let params = json!([encoded, {"encoding": "base64", "preflightCommitment": "confirmed", "maxRetries": 0}]);
        let signature = self.call("sendTransaction", params)?;
        signature.as_str().map(str::to_owned).ok_or_else(|| RpcError::Transport("sendTransaction".into()))
    }

    /// What the network knows of each signature, in order; None for one it never saw. Searches
    /// the ledger's history, not only recent slots: a transaction found later was not lost.
    pub fn statuses(&self, signatures: &[&str]) -> Result<Vec<Option<Status>>, RpcError> {
        let mut found = Vec::with_capacity(signatures.len());
        // The node takes at most 256 signatures a call.
        for chunk in signatures.chunks(256) {
            let result = self.call("getSignatureStatuses", json!([chunk, {"searchTransactionHistory": true}]))?;
            let values = answer(&result, "value")?.as_array().cloned().unwrap_or_default();
            if values.len() != chunk.len() {
                return Err(RpcError::Transport("getSignatureStatuses answered for other signatures".into()));
            }
            found.extend(values.iter().map(|v| {
                (!v.is_null()).then(|| Status {
                    slot: v.get("slot").and_then(Value::as_u64).unwrap_or_default(),
                    confirmation: v.get("confirmationStatus").and_then(Value::as_str).unwrap_or("processed").to_owned(),
                    error: v.get("err").filter(|e| !e.is_null()).map(Value::to_string),
                })
            }));
        }
        Ok(found)
    }

    /// An account's lamports (0 when it does not exist).
    pub fn balance(&self, address: &str) -> Result<u64, RpcError> {
        let result = self.call("getBalance", json!([address, {"commitment": "confirmed"}]))?;
        Ok(answer(&result, "value")?.as_u64().unwrap_or_default())
    }

    /// A token account's balance in the mint's smallest unit; None when there is no such account.
    pub fn token_balance(&self, token_account: &str) -> Result<Option<u64>, RpcError> {
        match self.call("getTokenAccountBalance", json!([token_account, {"commitment": "confirmed"}])) {
            Ok(result) => {
                let amount = answer(answer(&result, "value")?, "amount")?.as_str().unwrap_or_default();
                amount.parse().map(Some).map_err(|_| RpcError::Transport(format!("token amount {amount:?}")))
            }
            // "could not find account" / "Invalid param: not a Token account".
            Err(RpcError::Node { code: -32602, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether an account exists.
    pub fn exists(&self, address: &str) -> Result<bool, RpcError> {
        let result =
            self.call("getAccountInfo", json!([address, {"encoding": "base64", "commitment": "confirmed"}]))?;
        Ok(!answer(&result, "value")?.is_null())
    }
}
