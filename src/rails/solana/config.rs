//! The Solana rail's chain config: the node's JSON-RPC URL, the commitment a row completes at,
//! the hot wallet's keypair (a Solana CLI keypair file, or [`KEY_ENV`]) — never from the
//! database, never logged —, the priority-fee cap, whether recipients without a token account
//! get one, and the assets with their mints and decimals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::Deserialize;

use crate::domain::address::Address;
use crate::domain::asset::{self, AddressFamily, Asset, explorer_template};

/// The environment variable holding the keypair (the Solana CLI's JSON array of 64 numbers),
/// unless the file names `keypair_file`.
pub const KEY_ENV: &str = "PAYOUTS_SOLANA_KEYPAIR";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rpc_url: String,
    /// `finalized` (the default) or `confirmed`: when a row counts as paid.
    #[serde(default = "default_commitment")]
    commitment: String,
    keypair_file: Option<PathBuf>,
    /// The most paid per compute unit above the base fee, in micro-lamports; 0 pays none.
    #[serde(default)]
    max_priority_fee_micro_lamports: u64,
    /// Whether a recipient without a token account of the mint gets one, its rent paid by the
    /// hot wallet; false refuses such rows.
    #[serde(default = "default_true")]
    create_token_accounts: bool,
    assets: BTreeMap<String, AssetFile>,
    /// The explorer's page of a transaction, `{tx}` standing for its hash (for a test network's
    /// explorer, or your own): the links in receipts and on pages. Default: the asset's usual one.
    explorer_tx: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetFile {
    /// The SPL token's mint; absent for SOL itself.
    mint: Option<String>,
    decimals: Option<u32>,
}

fn default_commitment() -> String {
    "finalized".into()
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commitment {
    Finalized,
    Confirmed,
}

impl Commitment {
    /// As the JSON-RPC names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Commitment::Finalized => "finalized",
            Commitment::Confirmed => "confirmed",
        }
    }
}

/// What a row of an asset moves: lamports, or tokens of a mint (32 bytes) with its decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    Native,
    Token { mint: [u8; 32], decimals: u8 },
}

pub struct SolanaConfig {
    pub rpc_url: String,
    pub commitment: Commitment,
    pub key: SigningKey,
    pub max_priority_fee_micro_lamports: u64,
    pub create_token_accounts: bool,
    pub assets: Vec<(&'static Asset, Payment)>,
    pub explorer_tx: Option<String>,
}

impl std::fmt::Debug for SolanaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolanaConfig")
            .field("rpc_url", &self.rpc_url)
            .field("wallet", &self.wallet())
            .finish_non_exhaustive()
    }
}

impl SolanaConfig {
    /// The hot wallet's address (its public key in base58).
    pub fn wallet(&self) -> String {
        bs58::encode(self.key.verifying_key().as_bytes()).into_string()
    }

    /// Reads and checks the file; `key_from_env` is the value of [`KEY_ENV`], if set. An error
    /// names the file and what is wrong, never the key.
    pub fn load(path: &Path, key_from_env: Option<String>) -> Result<SolanaConfig, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let file: File = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
        let key = match (&file.keypair_file, key_from_env) {
            (Some(key_file), _) => {
                let text = std::fs::read_to_string(key_file)
                    .map_err(|e| format!("{shown}: keypair_file {}: {e}", key_file.display()))?;
                keypair(&text).map_err(|e| format!("{shown}: keypair_file {}: {e}", key_file.display()))?
            }
            (None, Some(text)) => keypair(&text).map_err(|e| format!("{shown}: {KEY_ENV}: {e}"))?,
            (None, None) => return Err(format!("{shown}: name keypair_file, or set {KEY_ENV}")),
        };
        let commitment = match file.commitment.as_str() {
            "finalized" => Commitment::Finalized,
            "confirmed" => Commitment::Confirmed,
            other => return Err(format!("{shown}: commitment must be finalized or confirmed, not {other:?}")),
        };
        if file.assets.is_empty() {
            return Err(format!("{shown}: assets must name what this chain pays (SOL, USDC_SOL, USDT_SOL)"));
        }
        let mut assets = Vec::new();
        for (code, spec) in &file.assets {
            let asset = asset::find(code).ok_or_else(|| format!("{shown}: unknown asset {code}"))?;
            if asset.family != AddressFamily::Solana {
                return Err(format!("{shown}: {code} is paid on {}, not Solana", asset.network));
            }
            let payment = match (&spec.mint, spec.decimals) {
                (None, None) if asset.code == "SOL" => Payment::Native,
                (None, _) if asset.code == "SOL" => return Err(format!("{shown}: SOL takes no decimals")),
                (Some(_), _) if asset.code == "SOL" => return Err(format!("{shown}: SOL has no mint")),
                (None, _) => return Err(format!("{shown}: {code} needs its token's mint")),
                (Some(mint), decimals) => {
                    let mint = Address::parse(asset, mint).map_err(|e| format!("{shown}: {code}'s mint: {e}"))?;
                    let decimals = decimals.ok_or_else(|| format!("{shown}: {code} needs the mint's decimals"))?;
                    if decimals != asset.decimals {
                        return Err(format!(
                            "{shown}: {code} has {} decimals here, but the mint was given {decimals}",
                            asset.decimals
                        ));
                    }
                    let bytes = bs58::decode(&mint.value).into_vec().unwrap_or_default();
                    let mint: [u8; 32] = bytes.try_into().map_err(|_| format!("{shown}: {code}'s mint"))?;
                    Payment::Token { mint, decimals: decimals as u8 }
                }
            };
            assets.push((asset, payment));
        }
        Ok(SolanaConfig {
            rpc_url: file.rpc_url.trim_end_matches('/').to_owned(),
            commitment,
            key,
            max_priority_fee_micro_lamports: file.max_priority_fee_micro_lamports,
            create_token_accounts: file.create_token_accounts,
            assets,
            explorer_tx: file
                .explorer_tx
                .as_deref()
                .map(explorer_template)
                .transpose()
                .map_err(|e| format!("{}: {e}", path.display()))?,
        })
    }
}

/// A Solana CLI keypair: a JSON array of 64 numbers, the secret seed then the public key, which
/// must be the seed's. The error never shows the numbers.
fn keypair(text: &str) -> Result<SigningKey, String> {
    let bytes: Vec<u8> = serde_json::from_str(text.trim())
        .map_err(|_| "not a Solana keypair (a JSON array of 64 numbers)".to_owned())?;
    let bytes: [u8; 64] =
        bytes.try_into().map_err(|b: Vec<u8>| format!("a Solana keypair has 64 numbers, this one {}", b.len()))?;
    SigningKey::from_keypair_bytes(&bytes)
        .map_err(|_| "its last 32 numbers are not the public key of its first 32: a damaged keypair".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";

    fn key_json(seed: u8) -> String {
        let key = SigningKey::from_bytes(&[seed; 32]);
        serde_json::to_string(&key.to_keypair_bytes().to_vec()).unwrap()
    }

    fn load(json: &str, env: Option<String>) -> Result<SolanaConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sol.json");
        std::fs::write(&path, json.replace("KEYFILE", &dir.path().join("key.json").display().to_string())).unwrap();
        std::fs::write(dir.path().join("key.json"), key_json(7)).unwrap();
        SolanaConfig::load(&path, env)
    }

    fn good() -> String {
        format!(
            r#"{{"rpc_url": "http://127.0.0.1:8899/", "keypair_file": "KEYFILE",
                "assets": {{"SOL": {{}}, "USDC_SOL": {{"mint": "{USDC}", "decimals": 6}}}}}}"#
        )
    }

    #[test]
    fn a_good_file_names_the_wallet_and_the_mints() {
        let c = load(&good(), None).unwrap();
        assert_eq!(
            (c.commitment, c.create_token_accounts, c.rpc_url.as_str()),
            (Commitment::Finalized, true, "http://127.0.0.1:8899")
        );
        let expected = bs58::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes()).into_string();
        assert_eq!(c.wallet(), expected);
        assert!(!format!("{c:?}").contains(&key_json(7)[..20]), "the key is never shown");
        assert_eq!(c.assets[0].1, Payment::Native);
        let Payment::Token { mint, decimals } = c.assets[1].1 else { panic!("USDC is a token") };
        assert_eq!((bs58::encode(mint).into_string().as_str(), decimals), (USDC, 6));
        let from_env = load(&good().replace(r#""keypair_file": "KEYFILE","#, ""), Some(key_json(9))).unwrap();
        assert_ne!(from_env.wallet(), expected);
    }

    #[test]
    fn mistakes_are_refused_with_what_is_wrong() {
        let cases = [
            (good().replace("\"decimals\": 6", "\"decimals\": 9"), "has 6 decimals here, but the mint was given 9"),
            (
                good().replace(USDC, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
                "USDC_SOL's mint: This is an EVM address",
            ),
            (good().replace("\"SOL\": {}", "\"ETH\": {}"), "ETH is paid on Ethereum, not Solana"),
            (good().replace("\"SOL\": {}", "\"SOL\": {\"decimals\": 9}"), "SOL takes no decimals"),
            (good().replace(r#""keypair_file": "KEYFILE","#, ""), "name keypair_file, or set PAYOUTS_SOLANA_KEYPAIR"),
            (good().replace("\"rpc_url\"", "\"commitment\": \"processed\", \"rpc_url\""), "finalized or confirmed"),
            (good().replace("\"rpc_url\"", "\"url\""), "unknown field"),
        ];
        for (json, why) in cases {
            let e = load(&json, None).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
        let mut damaged = SigningKey::from_bytes(&[7; 32]).to_keypair_bytes();
        damaged[40] ^= 1;
        let damaged = serde_json::to_string(&damaged.to_vec()).unwrap();
        let e = load(&good().replace(r#""keypair_file": "KEYFILE","#, ""), Some(damaged.clone())).unwrap_err();
        assert!(e.contains("a damaged keypair") && !e.contains(&damaged[..12]), "{e}");
        let e = load(&good().replace(r#""keypair_file": "KEYFILE","#, ""), Some("[1,2,3]".into())).unwrap_err();
        assert!(e.contains("64 numbers, this one 3"), "{e}");
    }
}
