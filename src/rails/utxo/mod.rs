//! The UTXO family: Bitcoin and Litecoin paid through a node of Bitcoin Core's JSON-RPC family
//! and its wallet (`--chain-config utxo=FILE`). A payout's rows go out as one transaction, one
//! output each, funded and signed by the node's wallet (`build`), stored with each row's output
//! before it is broadcast and followed until deep enough (`rail`, `follow`); the chain config
//! and the start-up checks (the node's chain, its coin by the genesis block, the wallet loaded
//! and able to sign) are `config` and [`UtxoNode::connect`].

pub mod build;
pub mod chain;
pub mod config;
mod follow;
pub mod rail;
pub mod rpc;

use std::time::Duration;

use serde_json::{Value, json};

use self::config::UtxoConfig;
use self::rpc::{NodeRpc, RpcError, WALLET_NOT_FOUND};

/// A node checked to be the configured coin's chain, with the configured wallet loaded.
pub struct UtxoNode {
    pub config: UtxoConfig,
    pub rpc: NodeRpc,
}

impl std::fmt::Debug for UtxoNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtxoNode").field("config", &self.config).finish_non_exhaustive()
    }
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.get(name).unwrap_or(&Value::Null)
}

impl UtxoNode {
    /// Reads the secret, connects and refuses, with the reason, a node on another network or of
    /// another coin, a wallet that is not loaded, or one that cannot sign.
    pub fn connect(config: UtxoConfig) -> Result<UtxoNode, String> {
        let secret = config.credentials.read()?;
        let rpc = NodeRpc::new(&config.rpc_url, &config.wallet, &secret, Duration::from_secs(15));
        let url = &config.rpc_url;
        let at = |e: RpcError| format!("node {url}: {e}");
        let info = rpc.node("getblockchaininfo", json!([])).map_err(at)?;
        let chain = field(&info, "chain").as_str().unwrap_or_default();
        if chain != config.network.node_name() {
            return Err(format!("the node at {url} is on the {chain} network, not {}", config.network.node_name()));
        }
        let genesis = rpc.node("getblockhash", json!([0])).map_err(at)?;
        let expected = config::genesis(config.asset.code, config.network).unwrap_or_default();
        if genesis.as_str() != Some(expected) {
            return Err(format!(
                "the node at {url} is not a {} node: its genesis block is {}, not {expected}",
                config.asset.name,
                genesis.as_str().unwrap_or("unknown")
            ));
        }
        let wallet = match rpc.wallet("getwalletinfo", json!([])) {
            Ok(w) => w,
            Err(RpcError::Node { code: WALLET_NOT_FOUND, .. }) => {
                return Err(format!(
                    "node {url}: the wallet {:?} is not loaded (on the node: loadwallet or createwallet)",
                    config.wallet
                ));
            }
            Err(e) => return Err(at(e)),
        };
        if field(&wallet, "private_keys_enabled") == &Value::Bool(false) {
            return Err(format!("node {url}: the wallet {:?} holds no private keys, so it cannot sign", config.wallet));
        }
        Ok(UtxoNode { config, rpc })
    }
}
