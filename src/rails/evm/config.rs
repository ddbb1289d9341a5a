//! The EVM rail's configuration: a JSON file naming the node, the chain and the assets paid on
//! it, and the hot wallet's key, read from an environment variable or a file — never from the
//! database, never logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde::Deserialize;

use super::signer::{HsmSigner, PIN_ENV, Pkcs11Settings, Signer};

use crate::domain::asset::{self, AddressFamily, Asset, explorer_template};

/// The environment variable holding the hot wallet's private key (hex), unless the file names
/// `private_key_file`.
pub const KEY_ENV: &str = "PAYOUTS_EVM_PRIVATE_KEY";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rpc_url: String,
    chain_id: u64,
    #[serde(default = "default_confirmations")]
    confirmations: u32,
    /// The most the wallet pays per unit of gas, in gwei; a higher network price waits.
    max_fee_per_gas_gwei: u64,
    private_key_file: Option<PathBuf>,
    assets: BTreeMap<String, AssetFile>,
    /// The PayoutBatch contract (`payouts evm deploy-batch`): mass payouts go out through it,
    /// many rows per transaction.
    batch_contract: Option<String>,
    /// Rows per batch transaction; default: as many as keep it under a quarter of the block's
    /// gas limit, at most [`DEFAULT_BATCH_ROWS`].
    batch_rows: Option<usize>,
    /// Seconds a transaction may wait unmined, priced under the base fee, before it is replaced
    /// with a higher fee.
    #[serde(default = "default_replace_after")]
    replace_after_seconds: u64,
    /// Where the key is when it is not in the server's memory.
    signer: Option<SignerFile>,
    /// The explorer's page of a transaction, `{tx}` standing for its hash (for a test network's
    /// explorer, or your own): the links in receipts and on pages. Default: the asset's usual one.
    explorer_tx: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerFile {
    pkcs11: Pkcs11File,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pkcs11File {
    /// The vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
    module: PathBuf,
    token_label: String,
    key_label: String,
    /// A file holding the user PIN; otherwise PAYOUTS_PKCS11_PIN.
    pin_file: Option<PathBuf>,
}

fn default_replace_after() -> u64 {
    180
}

/// Rows per batch transaction unless the file says otherwise: about 6 million gas for tokens
/// (≈ 26,000 gas a row, measured on anvil, BENCHMARKS.md), a sixth of Ethereum's block.
pub const DEFAULT_BATCH_ROWS: usize = 200;

fn default_confirmations() -> u32 {
    12
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetFile {
    /// The ERC-20 contract; absent for the chain's own coin.
    token: Option<String>,
    decimals: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
pub enum Payment {
    Native,
    Token(Address),
}

pub struct EvmConfig {
    pub rpc_url: String,
    pub chain_id: u64,
    pub confirmations: u32,
    pub max_fee_per_gas: u128,
    pub signer: Signer,
    pub assets: Vec<(&'static Asset, Payment)>,
    pub batch_contract: Option<Address>,
    pub batch_rows: usize,
    pub replace_after: chrono::Duration,
    pub explorer_tx: Option<String>,
}

impl std::fmt::Debug for EvmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmConfig")
            .field("rpc_url", &self.rpc_url)
            .field("chain_id", &self.chain_id)
            .field("wallet", &self.signer.address().to_checksum(None))
            .finish_non_exhaustive()
    }
}

impl EvmConfig {
    /// Reads and checks the file; `key_from_env` is the value of [`KEY_ENV`], if set.
    pub fn load(path: &Path, key_from_env: Option<String>) -> Result<EvmConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: File = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let signer = match &file.signer {
            Some(SignerFile { pkcs11 }) => {
                if file.private_key_file.is_some() {
                    return Err(format!(
                        "{}: name either private_key_file or a pkcs11 signer, not both",
                        path.display()
                    ));
                }
                Signer::Pkcs11(HsmSigner::open(&pkcs11_settings(pkcs11)?)?)
            }
            None => Signer::Local(local_key(path, &file, key_from_env)?),
        };
        let mut assets = Vec::new();
        for (code, a) in &file.assets {
            let asset = asset::find(code).ok_or_else(|| format!("{}: unknown asset {code}", path.display()))?;
            if asset.family != AddressFamily::Evm {
                return Err(format!("{}: {code} is not paid on an EVM network", path.display()));
            }
            let payment = match &a.token {
                None => Payment::Native,
                Some(t) => {
                    let address: Address = t.parse().map_err(|_| format!("{code}: token {t} is not an address"))?;
                    if a.decimals != Some(asset.decimals) {
                        return Err(format!(
                            "{code}: decimals must be given and equal {} (amounts are kept in that many decimals)",
                            asset.decimals
                        ));
                    }
                    Payment::Token(address)
                }
            };
            assets.push((asset, payment));
        }
        if assets.is_empty() {
            return Err(format!("{}: no assets", path.display()));
        }
        let batch_contract = match &file.batch_contract {
            None => None,
            Some(c) => Some(c.parse::<Address>().map_err(|_| format!("batch_contract {c} is not an address"))?),
        };
        let batch_rows = match file.batch_rows {
            Some(0) => return Err(format!("{}: batch_rows must be at least 1", path.display())),
            Some(n) => n,
            None => DEFAULT_BATCH_ROWS,
        };
        Ok(EvmConfig {
            rpc_url: file.rpc_url,
            chain_id: file.chain_id,
            confirmations: file.confirmations.max(1),
            max_fee_per_gas: u128::from(file.max_fee_per_gas_gwei) * 1_000_000_000,
            signer,
            assets,
            batch_contract,
            batch_rows,
            replace_after: chrono::Duration::seconds(file.replace_after_seconds.clamp(1, 86_400) as i64),
            explorer_tx: file
                .explorer_tx
                .as_deref()
                .map(explorer_template)
                .transpose()
                .map_err(|e| format!("{}: {e}", path.display()))?,
        })
    }
}

fn local_key(path: &Path, file: &File, key_from_env: Option<String>) -> Result<PrivateKeySigner, String> {
    let key = match (&file.private_key_file, key_from_env) {
        (Some(p), _) => std::fs::read_to_string(p).map_err(|e| format!("private_key_file {}: {e}", p.display()))?,
        (None, Some(k)) => k,
        (None, None) => {
            return Err(format!("{}: no hot-wallet key: set {KEY_ENV} or private_key_file", path.display()));
        }
    };
    // The error text of a bad key never includes the key.
    key.trim().parse().map_err(|_| "the hot-wallet key is not a 32-byte hex private key".to_owned())
}

fn pkcs11_settings(f: &Pkcs11File) -> Result<Pkcs11Settings, String> {
    let pin = match &f.pin_file {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("pin_file {}: {e}", p.display()))?,
        None => std::env::var(PIN_ENV).map_err(|_| format!("no PKCS#11 PIN: set {PIN_ENV} or pin_file"))?,
    };
    Ok(Pkcs11Settings {
        module: f.module.clone(),
        token_label: f.token_label.clone(),
        key_label: f.key_label.clone(),
        pin: pin.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::EvmConfig;

    const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    fn load(json: &str, key: Option<&str>) -> Result<EvmConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evm.json");
        std::fs::write(&path, json).unwrap();
        EvmConfig::load(&path, key.map(str::to_owned))
    }

    const GOOD: &str = r#"{"rpc_url": "http://127.0.0.1:8545", "chain_id": 1, "max_fee_per_gas_gwei": 80,
        "assets": {"ETH": {}, "USDT_ERC20": {"token": "0xdAC17F958D2ee523a2206206994597C13D831ec7", "decimals": 6}}}"#;

    #[test]
    fn a_good_file_names_the_wallet_but_never_shows_the_key() {
        let config = load(GOOD, Some(KEY)).unwrap();
        assert_eq!(config.assets.len(), 2);
        assert_eq!(config.confirmations, 12);
        assert_eq!(config.max_fee_per_gas, 80_000_000_000);
        let shown = format!("{config:?}");
        assert!(shown.contains("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"), "{shown}");
        assert!(!shown.contains(&KEY[2..]), "{shown}");
    }

    #[test]
    fn mistakes_are_refused_with_what_is_wrong() {
        let bad_key = load(GOOD, Some("0x1234deadbeef")).unwrap_err();
        assert!(bad_key.contains("not a 32-byte hex private key") && !bad_key.contains("deadbeef"), "{bad_key}");
        assert!(load(GOOD, None).unwrap_err().contains("PAYOUTS_EVM_PRIVATE_KEY"));
        let btc = GOOD.replace("\"ETH\": {}", "\"BTC\": {}");
        assert!(load(&btc, Some(KEY)).unwrap_err().contains("BTC is not paid on an EVM network"));
        let decimals = GOOD.replace("\"decimals\": 6", "\"decimals\": 18");
        assert!(load(&decimals, Some(KEY)).unwrap_err().contains("decimals must be given and equal 6"));
        let batch = GOOD.replace("\"assets\"", "\"batch_contract\": \"0x12\", \"assets\"");
        assert!(load(&batch, Some(KEY)).unwrap_err().contains("batch_contract 0x12 is not an address"));
        let rows = GOOD.replace("\"assets\"", "\"batch_rows\": 0, \"assets\"");
        assert!(load(&rows, Some(KEY)).unwrap_err().contains("batch_rows must be at least 1"));
        let unknown = GOOD.replace("\"chain_id\"", "\"chain\"");
        assert!(load(&unknown, Some(KEY)).unwrap_err().contains("unknown field"));
    }
}
