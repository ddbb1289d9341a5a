//! The network families the server pays on, and the one place a chain config file becomes a
//! rail. A family is a folder `rails/<family>/` and one entry in [`FAMILIES`]; nothing else names
//! it. Every family's file has the same shape (JSON, unknown keys refused): the node's URL, the
//! confirmations a transfer waits for, a fee cap in the family's unit, the assets it pays with
//! what each needs (a token contract, a mint), and where the hot wallet's key is (an environment
//! variable, a file, or a signer such as PKCS#11) — never in the database, never logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Rail;
use crate::clock::Clock;
use crate::db::Pool;

/// What a family's `connect` is given besides its file.
pub struct Setup {
    pub pool: Pool,
    /// The app's clock, which the rail judges time by.
    pub clock: Clock,
}

/// A rail ready to pay: its node reached, its chain, wallet and assets checked.
pub struct Connected {
    pub rail: Arc<dyn Rail>,
    /// The asset codes it pays; no two rails pay the same one.
    pub assets: Vec<String>,
    /// The hot wallet's address, for the start-up log.
    pub wallet: String,
    /// The config's explorer template for its assets' transactions, if it names one.
    pub explorer_tx: Option<String>,
}

pub struct Family {
    /// As named in `--chain-config NAME=FILE`.
    pub name: &'static str,
    /// Reads the file, connects, and refuses a mismatch (another chain, a token whose decimals
    /// differ, a missing key) with its reason, before the server pays anything.
    pub connect: fn(&Path, &Setup) -> Result<Connected, String>,
}

/// The families this build pays on.
pub const FAMILIES: &[Family] = &[
    #[cfg(feature = "evm")]
    Family { name: "evm", connect: super::evm::connect_file },
    Family { name: "utxo", connect: super::utxo::rail::connect_file },
    Family { name: "solana", connect: super::solana::rail::connect_file },
];

/// A chain config as named on the command line: `NAME=FILE`, `NAME` a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    pub family: String,
    pub file: PathBuf,
}

impl std::str::FromStr for ChainConfig {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((family, file)) if !family.trim().is_empty() && !file.trim().is_empty() => {
                Ok(ChainConfig { family: family.trim().to_ascii_lowercase(), file: PathBuf::from(file.trim()) })
            }
            _ => Err(format!("`{text}`: write FAMILY=FILE, e.g. evm=/etc/payouts/ethereum.json")),
        }
    }
}

/// Connects every configured chain, in order; fails on the first that cannot pay, naming its
/// file, and when two files pay the same asset.
pub fn connect_all(configs: &[ChainConfig], setup: &Setup) -> Result<Vec<Connected>, String> {
    let mut connected: Vec<Connected> = Vec::new();
    for config in configs {
        let shown = config.file.display();
        let family = FAMILIES.iter().find(|f| f.name == config.family).ok_or_else(|| {
            let known: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
            format!(
                "{shown}: this build has no {} rail (cargo feature `{}`); it pays on: {}",
                config.family,
                config.family,
                if known.is_empty() { "no real chain".to_owned() } else { known.join(", ") }
            )
        })?;
        let rail = (family.connect)(&config.file, setup)?;
        if let Some(code) = rail.assets.iter().find(|c| connected.iter().any(|r| r.assets.contains(c))) {
            return Err(format!("{shown}: {code} is already paid by another chain config"));
        }
        connected.push(rail);
    }
    Ok(connected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_config_names_its_family_and_file() {
        let c: ChainConfig = " EVM = /etc/payouts/eth.json".parse().unwrap();
        assert_eq!(c, ChainConfig { family: "evm".into(), file: "/etc/payouts/eth.json".into() });
        for bad in ["evm", "=x.json", "evm=", ""] {
            assert!(bad.parse::<ChainConfig>().unwrap_err().contains("FAMILY=FILE"), "{bad}");
        }
    }

    #[test]
    fn an_unknown_family_is_refused_with_the_ones_this_build_has() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::db::DatabaseUrl::sqlite_path(&dir.path().join("db"));
        let setup = Setup { pool: crate::db::connect(&url, 1).unwrap(), clock: Clock::real() };
        let configs = vec![ChainConfig { family: "dogecoin".into(), file: "doge.json".into() }];
        let Err(e) = connect_all(&configs, &setup) else { panic!("a family this build lacks was connected") };
        assert!(e.starts_with("doge.json: this build has no dogecoin rail"), "{e}");
        assert!(
            e.contains(if cfg!(feature = "evm") {
                "it pays on: evm, utxo, solana"
            } else {
                "it pays on: utxo, solana"
            }),
            "{e}"
        );
    }
}
