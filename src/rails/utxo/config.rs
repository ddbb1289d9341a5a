//! The UTXO rail's chain config, for nodes of Bitcoin Core's JSON-RPC family (Bitcoin Core,
//! Litecoin Core): the node, how to authenticate to it, the wallet that pays, the network, the
//! confirmations, the fee target and cap, the asset and the dust limit. The RPC password is read
//! from the node's cookie file or a secret file when connecting — never from the database, never
//! logged, never in an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::asset::{self, Asset, explorer_template};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rpc_url: String,
    /// The node's `.cookie` file (it is rewritten at every node start, so it is read at connect).
    rpc_cookie_file: Option<PathBuf>,
    rpc_user: Option<String>,
    /// A file holding the password of `rpc_user` (`rpcauth` on the node).
    rpc_password_file: Option<PathBuf>,
    /// The node wallet that funds and signs (`createwallet` on the node).
    wallet: String,
    /// main, test or regtest, as the node's `getblockchaininfo` names its chain.
    network: String,
    #[serde(default = "default_confirmations")]
    confirmations: u32,
    /// Blocks within which a transaction should confirm, for `estimatesmartfee`.
    #[serde(default = "default_fee_target")]
    fee_target_blocks: u32,
    /// The highest fee rate paid, in satoshi (litoshi) per virtual byte; above it nothing is sent.
    max_fee_rate_sat_vb: u64,
    /// The fee rate used while the node has no estimate (a new node, regtest); without it, rows
    /// wait until the node can estimate.
    fallback_fee_rate_sat_vb: Option<u64>,
    /// Blocks a transaction may stay unconfirmed before it is replaced with a higher fee, when
    /// the node's estimate has risen above what it paid.
    #[serde(default = "default_replace_after")]
    replace_after_blocks: u32,
    /// Exactly one: BTC or LTC, with nothing to say about it.
    assets: BTreeMap<String, Empty>,
    /// Outputs below this many satoshis are refused at review (the node would not relay them).
    #[serde(default = "default_dust")]
    dust_limit_sat: u64,
    /// Outputs per transaction; a mass payout above it goes out in several.
    #[serde(default = "default_max_outputs")]
    max_outputs: usize,
    /// The explorer's page of a transaction, `{tx}` standing for its hash (for a test network's
    /// explorer, or your own): the links in receipts and on pages. Default: the asset's usual one.
    explorer_tx: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

fn default_confirmations() -> u32 {
    6
}

fn default_fee_target() -> u32 {
    6
}

fn default_replace_after() -> u32 {
    3
}

/// Bitcoin Core's dust limit for a P2PKH output at its default relay fee.
fn default_dust() -> u64 {
    546
}

/// Outputs per transaction unless the file says otherwise: about 31 kvB of P2WPKH outputs, well
/// under the 100 kvB a standard transaction may weigh.
pub const DEFAULT_MAX_OUTPUTS: usize = 1000;

fn default_max_outputs() -> usize {
    DEFAULT_MAX_OUTPUTS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Main,
    Test,
    Regtest,
}

impl Network {
    /// As `getblockchaininfo` names the chain.
    pub fn node_name(self) -> &'static str {
        match self {
            Network::Main => "main",
            Network::Test => "test",
            Network::Regtest => "regtest",
        }
    }

    fn parse(text: &str) -> Option<Network> {
        [Network::Main, Network::Test, Network::Regtest].into_iter().find(|n| n.node_name() == text)
    }
}

/// The hash of block 0 of each chain this rail pays on: a node of another coin answers the same
/// RPC calls, so the genesis block is what tells a Litecoin node from a Bitcoin one.
pub fn genesis(coin: &str, network: Network) -> Option<&'static str> {
    Some(match (coin, network) {
        ("BTC", Network::Main) => "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        ("BTC", Network::Test) => "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
        ("BTC", Network::Regtest) => "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        ("LTC", Network::Main) => "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2",
        ("LTC", Network::Test) => "4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0",
        ("LTC", Network::Regtest) => "530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9",
        _ => return None,
    })
}

/// Where the RPC password is.
#[derive(Debug, Clone)]
pub enum Credentials {
    Cookie(PathBuf),
    Password { user: String, file: PathBuf },
}

/// A user name and password, shown nowhere.
pub struct Secret {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret {{ user: {:?}, password: <hidden> }}", self.user)
    }
}

impl Credentials {
    /// Reads the secret now; an error names the file, never its content.
    pub fn read(&self) -> Result<Secret, String> {
        match self {
            Credentials::Cookie(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| format!("rpc_cookie_file {}: {e}", path.display()))?;
                let (user, password) = text
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| format!("rpc_cookie_file {}: not a node cookie (USER:PASSWORD)", path.display()))?;
                Ok(Secret { user: user.to_owned(), password: password.to_owned() })
            }
            Credentials::Password { user, file } => {
                let password =
                    std::fs::read_to_string(file).map_err(|e| format!("rpc_password_file {}: {e}", file.display()))?;
                Ok(Secret { user: user.clone(), password: password.trim().to_owned() })
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct UtxoConfig {
    pub rpc_url: String,
    pub credentials: Credentials,
    pub wallet: String,
    pub network: Network,
    pub confirmations: u32,
    pub fee_target_blocks: u32,
    pub max_fee_rate_sat_vb: u64,
    pub fallback_fee_rate_sat_vb: Option<u64>,
    pub replace_after_blocks: u32,
    pub asset: &'static Asset,
    pub dust_limit_sat: u64,
    pub max_outputs: usize,
    pub explorer_tx: Option<String>,
}

impl UtxoConfig {
    /// Reads and checks the file (the secrets themselves are read at connect).
    pub fn load(path: &Path) -> Result<UtxoConfig, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let file: File = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
        let credentials = match (file.rpc_cookie_file, file.rpc_user, file.rpc_password_file) {
            (Some(cookie), None, None) => Credentials::Cookie(cookie),
            (None, Some(user), Some(file)) => Credentials::Password { user, file },
            _ => {
                return Err(format!(
                    "{shown}: name either rpc_cookie_file, or rpc_user with rpc_password_file (the node's password)"
                ));
            }
        };
        let network = Network::parse(&file.network)
            .ok_or_else(|| format!("{shown}: network must be main, test or regtest, not {:?}", file.network))?;
        let mut codes = file.assets.keys();
        let asset = match (codes.next(), codes.next()) {
            (Some(code), None) => asset::find(code).ok_or_else(|| format!("{shown}: unknown asset {code}"))?,
            _ => return Err(format!("{shown}: assets must name exactly one coin, BTC or LTC")),
        };
        if genesis(asset.code, network).is_none() {
            return Err(format!("{shown}: {} is not paid by this rail (BTC or LTC)", asset.code));
        }
        // The review refuses amounts under the asset's minimum payout, naming it; with the dust
        // limit below that minimum no row can reach the node as dust.
        let minimum = crate::domain::Amount::parse(asset, asset.min_amount).map(|m| m.minor()).unwrap_or_default();
        if i128::from(file.dust_limit_sat) >= minimum {
            return Err(format!(
                "{shown}: dust_limit_sat {} is not below {}'s minimum payout of {} ({minimum} satoshis), which the \
                 review enforces",
                file.dust_limit_sat, asset.code, asset.min_amount
            ));
        }
        if file.wallet.trim().is_empty() {
            return Err(format!("{shown}: wallet must name the node wallet that pays"));
        }
        if file.max_fee_rate_sat_vb == 0 {
            return Err(format!("{shown}: max_fee_rate_sat_vb must be at least 1"));
        }
        if file.fallback_fee_rate_sat_vb.is_some_and(|f| f == 0 || f > file.max_fee_rate_sat_vb) {
            return Err(format!("{shown}: fallback_fee_rate_sat_vb must be between 1 and max_fee_rate_sat_vb"));
        }
        if file.max_outputs == 0 {
            return Err(format!("{shown}: max_outputs must be at least 1"));
        }
        Ok(UtxoConfig {
            rpc_url: file.rpc_url.trim_end_matches('/').to_owned(),
            credentials,
            wallet: file.wallet,
            network,
            confirmations: file.confirmations.max(1),
            fee_target_blocks: file.fee_target_blocks.clamp(1, 1008),
            max_fee_rate_sat_vb: file.max_fee_rate_sat_vb,
            fallback_fee_rate_sat_vb: file.fallback_fee_rate_sat_vb,
            replace_after_blocks: file.replace_after_blocks.max(1),
            asset,
            dust_limit_sat: file.dust_limit_sat,
            max_outputs: file.max_outputs,
            explorer_tx: file
                .explorer_tx
                .as_deref()
                .map(explorer_template)
                .transpose()
                .map_err(|e| format!("{shown}: {e}"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(json: &str) -> Result<UtxoConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ltc.json");
        std::fs::write(&path, json).unwrap();
        UtxoConfig::load(&path)
    }

    const GOOD: &str = r#"{"rpc_url": "http://127.0.0.1:9332/", "rpc_cookie_file": "/var/lib/litecoind/.cookie",
        "wallet": "payouts", "network": "main", "max_fee_rate_sat_vb": 50, "assets": {"LTC": {}}}"#;

    #[test]
    fn a_good_file_gets_the_defaults() {
        let c = load(GOOD).unwrap();
        assert_eq!((c.asset.code, c.network, c.confirmations, c.fee_target_blocks), ("LTC", Network::Main, 6, 6));
        assert_eq!((c.dust_limit_sat, c.max_outputs, c.rpc_url.as_str()), (546, 1000, "http://127.0.0.1:9332"));
        assert!(matches!(c.credentials, Credentials::Cookie(_)));
        assert_eq!(c.explorer_tx, None);
        let own = GOOD.replace("\"wallet\"", "\"explorer_tx\": \"https://explorer.example/ltc/tx/{tx}\", \"wallet\"");
        assert_eq!(load(&own).unwrap().explorer_tx.as_deref(), Some("https://explorer.example/ltc/tx/{tx}"));
    }

    #[test]
    fn mistakes_are_refused_with_what_is_wrong() {
        let cases = [
            (GOOD.replace("\"main\"", "\"mainnet\""), "network must be main, test or regtest"),
            (GOOD.replace("\"LTC\": {}", "\"ETH\": {}"), "ETH is not paid by this rail"),
            (GOOD.replace("\"LTC\": {}", "\"LTC\": {}, \"BTC\": {}"), "exactly one coin"),
            (GOOD.replace("\"max_fee_rate_sat_vb\": 50", "\"max_fee_rate_sat_vb\": 0"), "at least 1"),
            (GOOD.replace("\"rpc_cookie_file\"", "\"rpc_user\": \"u\", \"rpc_cookie_file\""), "name either"),
            (GOOD.replace("\"wallet\"", "\"walet\""), "unknown field"),
            (GOOD.replace("\"wallet\"", "\"dust_limit_sat\": 100000, \"wallet\""), "LTC's minimum payout of 0.001"),
            (
                GOOD.replace("\"max_fee_rate_sat_vb\"", "\"fallback_fee_rate_sat_vb\": 60, \"max_fee_rate_sat_vb\""),
                "between 1",
            ),
            (GOOD.replace("\"wallet\"", "\"explorer_tx\": \"https://x.example/tx/\", \"wallet\""), "with {tx} once"),
            (GOOD.replace("\"wallet\"", "\"explorer_tx\": \"javascript:{tx}\", \"wallet\""), "an http(s) URL"),
        ];
        for (json, why) in cases {
            let e = load(&json).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn a_secret_is_read_from_its_file_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let cookie = dir.path().join(".cookie");
        std::fs::write(&cookie, "__cookie__:5ecre7\n").unwrap();
        let secret = Credentials::Cookie(cookie).read().unwrap();
        assert_eq!((secret.user.as_str(), secret.password.as_str()), ("__cookie__", "5ecre7"));
        assert!(!format!("{secret:?}").contains("5ecre7"));
        let missing = Credentials::Password { user: "u".into(), file: dir.path().join("nope") }.read().unwrap_err();
        assert!(missing.contains("rpc_password_file") && missing.contains("nope"), "{missing}");
    }
}
