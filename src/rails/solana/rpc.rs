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
    /// Blocks voted on it since; None once it is rooted (finalized).
    pub confirmations: Option<u64>,
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
        // Never guessed: a transaction signed anew too early could land beside the first.
        let last = answer(value, "lastValidBlockHeight")?
            .as_u64()
            .ok_or_else(|| RpcError::Transport("getLatestBlockhash: no lastValidBlockHeight".into()))?;
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
                    confirmations: v.get("confirmations").and_then(Value::as_u64),
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
        Ok(self.accounts(&[address])?.pop().flatten().is_some())
    }

    /// Each account (its owning program, lamports and data), in order; None where there is none.
    pub fn accounts(&self, addresses: &[&str]) -> Result<Vec<Option<Account>>, RpcError> {
        let mut found = Vec::with_capacity(addresses.len());
        // The node takes at most 100 accounts a call.
        for chunk in addresses.chunks(100) {
            let result =
                self.call("getMultipleAccounts", json!([chunk, {"encoding": "base64", "commitment": "confirmed"}]))?;
            let values = answer(&result, "value")?.as_array().cloned().unwrap_or_default();
            if values.len() != chunk.len() {
                return Err(RpcError::Transport("getMultipleAccounts answered for other accounts".into()));
            }
            for v in values {
                found.push(if v.is_null() { None } else { Some(Account::of(&v)?) });
            }
        }
        Ok(found)
    }

    /// Runs signed bytes against the current state without sending them: the error the network
    /// would give, and the compute units they took.
    pub fn simulate(&self, bytes: &[u8]) -> Result<Simulation, RpcError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let params = json!([encoded, {"encoding": "base64", "commitment": "confirmed", "sigVerify": false}]);
        let result = self.call("simulateTransaction", params)?;
        let value = answer(&result, "value")?;
        Ok(Simulation {
            error: value.get("err").filter(|e| !e.is_null()).cloned(),
            units: value.get("unitsConsumed").and_then(Value::as_u64),
        })
    }

    /// A landed transaction's fee and each account's lamports before and after it.
    pub fn landed(&self, signature: &str, commitment: Commitment) -> Result<Option<Landed>, RpcError> {
        let params = json!([signature, {"encoding": "json", "commitment": commitment.as_str(),
            "maxSupportedTransactionVersion": 0}]);
        let result = self.call("getTransaction", params)?;
        if result.is_null() {
            return Ok(None);
        }
        let meta = answer(&result, "meta")?;
        let keys = result.pointer("/transaction/message/accountKeys").and_then(Value::as_array).cloned();
        let numbers = |name: &'static str| -> Result<Vec<u64>, RpcError> {
            let list = answer(meta, name)?.as_array().cloned().unwrap_or_default();
            Ok(list.iter().map(|n| n.as_u64().unwrap_or_default()).collect())
        };
        Ok(Some(Landed {
            fee: answer(meta, "fee")?.as_u64().unwrap_or_default(),
            keys: keys.unwrap_or_default().iter().map(|k| k.as_str().unwrap_or_default().to_owned()).collect(),
            before: numbers("preBalances")?,
            after: numbers("postBalances")?,
        }))
    }

    /// The current slot at `commitment`.
    pub fn slot(&self, commitment: Commitment) -> Result<u64, RpcError> {
        let result = self.call("getSlot", json!([{"commitment": commitment.as_str()}]))?;
        result.as_u64().ok_or_else(|| RpcError::Transport("getSlot".into()))
    }

    /// The lamports an account of `bytes` of data must hold to be kept.
    pub fn rent(&self, bytes: u64) -> Result<u64, RpcError> {
        let result = self.call("getMinimumBalanceForRentExemption", json!([bytes]))?;
        result.as_u64().ok_or_else(|| RpcError::Transport("getMinimumBalanceForRentExemption".into()))
    }

    /// What recent transactions writing `account` paid per compute unit, in micro-lamports: the
    /// 75th percentile of the recent slots', 0 when none paid.
    pub fn priority_fee(&self, account: &str) -> Result<u64, RpcError> {
        let result = self.call("getRecentPrioritizationFees", json!([[account]]))?;
        let mut fees: Vec<u64> = result
            .as_array()
            .map(|a| a.iter().filter_map(|f| f.get("prioritizationFee").and_then(Value::as_u64)).collect())
            .unwrap_or_default();
        fees.sort_unstable();
        Ok(fees.get(fees.len() * 3 / 4).copied().unwrap_or(0))
    }
}

/// An account as the network holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The program owning it, base58.
    pub owner: String,
    pub lamports: u64,
    pub data: Vec<u8>,
}

impl Account {
    fn of(v: &Value) -> Result<Account, RpcError> {
        let data = v.get("data").and_then(|d| d.get(0)).and_then(Value::as_str).unwrap_or_default();
        let data = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| RpcError::Transport("an account's data is not base64".into()))?;
        Ok(Account {
            owner: v.get("owner").and_then(Value::as_str).unwrap_or_default().to_owned(),
            lamports: v.get("lamports").and_then(Value::as_u64).unwrap_or_default(),
            data,
        })
    }
}

/// What a simulation said.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The transaction's error (`{"InstructionError": [index, detail]}` and the like).
    pub error: Option<Value>,
    pub units: Option<u64>,
}

/// A landed transaction's fee and balances, by account key.
#[derive(Debug, Clone)]
pub struct Landed {
    pub fee: u64,
    pub keys: Vec<String>,
    pub before: Vec<u64>,
    pub after: Vec<u64>,
}

impl Landed {
    /// What `account` gained in the transaction (a token account created: its rent).
    pub fn gained(&self, account: &str) -> u64 {
        let Some(n) = self.keys.iter().position(|k| k == account) else { return 0 };
        self.after.get(n).unwrap_or(&0).saturating_sub(*self.before.get(n).unwrap_or(&0))
    }
}
