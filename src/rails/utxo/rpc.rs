//! The few calls of Bitcoin Core's JSON-RPC (1.0 envelope) the UTXO rail makes, node-wide or to
//! its wallet (`/wallet/NAME`), over the HTTP client the product already uses. The credentials
//! travel only in the Authorization header and appear in no error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::rails::jsonrpc::Answer;

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
        match crate::rails::jsonrpc::exchange(&self.agent, url, Some(&self.authorization), method, &body) {
            Ok(Answer::Result(result)) => Ok(result),
            Ok(Answer::Error { code, message }) => Err(RpcError::Node { code, message }),
            Ok(Answer::Unauthorized) => Err(RpcError::Unauthorized),
            Err(e) => Err(RpcError::Transport(e)),
        }
    }
}
