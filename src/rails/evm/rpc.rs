//! The few Ethereum JSON-RPC calls the rail needs, over the HTTP client the product already
//! uses for webhooks. Quantities are hex strings on the wire.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::rails::jsonrpc::Answer;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// The node could not be reached or answered garbage: whether a send arrived is unknown.
    #[error("the node is unreachable: {0}")]
    Transport(String),
    /// The node answered with an error (a revert, a nonce already used, …).
    #[error("the node refused: {message}")]
    Node { code: i64, message: String },
}

pub struct Rpc {
    url: String,
    agent: ureq::Agent,
    id: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct Receipt {
    pub success: bool,
    pub block: u64,
    pub gas_used: u64,
    /// What the transaction cost in wei: gas used × the effective gas price, when the node says.
    pub fee: Option<u128>,
    /// The contract a creating transaction made.
    pub contract: Option<Address>,
    pub logs: Vec<Log>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Log {
    pub address: Address,
    pub topics: Vec<B256>,
    #[serde(rename = "logIndex")]
    pub index: alloy::primitives::U64,
}

/// What a transaction does: `to` with `value` wei and `input` calldata.
#[derive(Debug, Clone)]
pub struct Call {
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub input: Bytes,
}

fn quantity(v: &Value) -> Result<u128, RpcError> {
    let s = v.as_str().ok_or_else(|| RpcError::Transport(format!("expected a quantity, got {v}")))?;
    u128::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| RpcError::Transport(format!("quantity {s}: {e}")))
}

impl Rpc {
    pub fn new(url: &str) -> Rpc {
        Rpc::with_timeout(url, Duration::from_secs(15))
    }

    pub fn with_timeout(url: &str, timeout: Duration) -> Rpc {
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        Rpc { url: url.to_owned(), agent, id: AtomicU64::new(1) }
    }

    fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, RpcError> {
        let id = self.id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let result = match crate::rails::jsonrpc::exchange(&self.agent, &self.url, None, method, &body) {
            Ok(Answer::Result(result)) => result,
            Ok(Answer::Error { code, message }) => return Err(RpcError::Node { code, message }),
            Ok(Answer::Unauthorized) => return Err(RpcError::Transport(format!("{method}: HTTP 401"))),
            Err(e) => return Err(RpcError::Transport(e)),
        };
        serde_json::from_value(result).map_err(|e| RpcError::Transport(format!("{method}: unexpected answer: {e}")))
    }

    /// Any method, its answer as JSON: for node-specific calls (a test chain's controls).
    pub fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.call(method, params)
    }

    fn quantity(&self, method: &str, params: Value) -> Result<u128, RpcError> {
        quantity(&self.call::<Value>(method, params)?)
    }

    pub fn chain_id(&self) -> Result<u64, RpcError> {
        Ok(self.quantity("eth_chainId", json!([]))? as u64)
    }

    pub fn block_number(&self) -> Result<u64, RpcError> {
        Ok(self.quantity("eth_blockNumber", json!([]))? as u64)
    }

    /// The next nonce of `address`, counting transactions still in the node's pool.
    pub fn pending_nonce(&self, address: Address) -> Result<u64, RpcError> {
        Ok(self.quantity("eth_getTransactionCount", json!([address, "pending"]))? as u64)
    }

    pub fn balance(&self, address: Address) -> Result<U256, RpcError> {
        self.call("eth_getBalance", json!([address, "latest"]))
    }

    pub fn eth_call(&self, call: &Call) -> Result<Bytes, RpcError> {
        self.call(
            "eth_call",
            json!([{"from": call.from, "to": call.to, "value": call.value, "input": call.input}, "latest"]),
        )
    }

    pub fn estimate_gas(&self, call: &Call) -> Result<u64, RpcError> {
        let tx = json!({"from": call.from, "to": call.to, "value": call.value, "input": call.input});
        Ok(self.quantity("eth_estimateGas", json!([tx]))? as u64)
    }

    /// (base fee of the latest block, suggested priority fee), in wei per gas.
    pub fn fees(&self) -> Result<(u128, u128), RpcError> {
        let block: Value = self.call("eth_getBlockByNumber", json!(["latest", false]))?;
        let base = quantity(&block["baseFeePerGas"])?;
        let tip = self.quantity("eth_maxPriorityFeePerGas", json!([]))?;
        Ok((base, tip))
    }

    pub fn send_raw(&self, raw: &Bytes) -> Result<B256, RpcError> {
        self.call("eth_sendRawTransaction", json!([raw]))
    }

    pub fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        let receipt: Option<Value> = self.call("eth_getTransactionReceipt", json!([hash]))?;
        receipt
            .map(|r| {
                let logs = serde_json::from_value(r["logs"].clone())
                    .map_err(|e| RpcError::Transport(format!("receipt logs: {e}")))?;
                let contract = r["contractAddress"].as_str().and_then(|a| a.parse().ok());
                Ok(Receipt {
                    success: quantity(&r["status"])? == 1,
                    block: quantity(&r["blockNumber"])? as u64,
                    gas_used: quantity(&r["gasUsed"])? as u64,
                    fee: quantity(&r["effectiveGasPrice"])
                        .ok()
                        .and_then(|price| price.checked_mul(quantity(&r["gasUsed"]).ok()?)),
                    contract,
                    logs,
                })
            })
            .transpose()
    }

    /// The latest block's gas limit.
    pub fn block_gas_limit(&self) -> Result<u64, RpcError> {
        let block: Value = self.call("eth_getBlockByNumber", json!(["latest", false]))?;
        Ok(quantity(&block["gasLimit"])? as u64)
    }

    /// Whether the node knows the transaction at all (in its pool or in a block).
    pub fn knows(&self, hash: B256) -> Result<bool, RpcError> {
        Ok(self.call::<Option<Value>>("eth_getTransactionByHash", json!([hash]))?.is_some())
    }
}
