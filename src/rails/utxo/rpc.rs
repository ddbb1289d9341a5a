//! The few calls of Bitcoin Core's JSON-RPC (1.0 envelope) the UTXO rail makes, node-wide or to
//! its wallet (`/wallet/NAME`), over the HTTP client the product already uses. The credentials
//! travel only in the Authorization header and appear in no error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use super::config::Secret;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// The node could not be reached or answered garbage: whether a send arrived is unknown.
    #[error("the node is unreachable: {0}")]
    Transport(String),
    /// The node refused the credentials.
    #[error("the node refused the RPC credentials (HTTP 401): check rpc_cookie_file or rpc_user and its password")]
    Unauthorized,
    /// The node answered with an error (an unknown wallet, an invalid address, …).
    #[error("the node refused: {message} (code {code})")]
    Node { code: i64, message: String },
}

/// Bitcoin Core's error code for a wallet that is not loaded.
pub const WALLET_NOT_FOUND: i64 = -18;

pub struct NodeRpc {
    node_url: String,
    wallet_url: String,
    authorization: String,
    agent: ureq::Agent,
    id: AtomicU64,
}

impl NodeRpc {
    pub fn new(url: &str, wallet: &str, secret: &Secret, timeout: Duration) -> NodeRpc {
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", secret.user, secret.password));
        let wallet_path = percent_encoding::utf8_percent_encode(wallet, percent_encoding::NON_ALPHANUMERIC);
        NodeRpc {
            node_url: url.to_owned(),
            wallet_url: format!("{url}/wallet/{wallet_path}"),
            authorization: format!("Basic {token}"),
            agent,
            id: AtomicU64::new(1),
        }
    }

    /// A node-wide call (`getblockchaininfo`, `sendrawtransaction`, …).
    pub fn node(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.call(&self.node_url, method, params)
    }

    /// A call to the configured wallet (`getwalletinfo`, `walletcreatefundedpsbt`, …).
    pub fn wallet(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.call(&self.wallet_url, method, params)
    }

    fn call(&self, url: &str, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params});
        let transport = |e: &dyn std::fmt::Display| RpcError::Transport(format!("{method}: {e}"));
        let mut response = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Authorization", &self.authorization)
            .send(body.to_string())
            .map_err(|e| transport(&e))?;
        if response.status().as_u16() == 401 {
            return Err(RpcError::Unauthorized);
        }
        // Errors come with HTTP 404 (an unknown wallet) or 500 and a JSON body saying why.
        let text = response.body_mut().read_to_string().map_err(|e| transport(&e))?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|_| transport(&format!("HTTP {} and no JSON-RPC answer", response.status().as_u16())))?;
        match answer.get("error") {
            Some(e) if !e.is_null() => Err(RpcError::Node {
                code: e.get("code").and_then(Value::as_i64).unwrap_or_default(),
                message: e.get("message").and_then(Value::as_str).unwrap_or_default().chars().take(300).collect(),
            }),
            _ => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
        }
    }
}
