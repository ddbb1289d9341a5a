//! Wallet signatures made by libraries independent of the product: eth-account, python-bitcoinlib
//! and PyNaCl (from PyPI, in ~/.cache/payouts-signers) and TronWeb (from npm, in
//! ~/.cache/payouts-tronweb), both installed by `.ci/run`. Without them the proof tests are
//! skipped with a notice, except with `CI=true`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Signers {
    python: PathBuf,
    tronweb: PathBuf,
}

/// A key's address and its signature of a message, as the wallet would give them.
#[derive(Debug, Clone)]
pub struct Signed {
    pub address: String,
    pub signature: String,
}

impl Signers {
    pub fn find() -> Option<Signers> {
        let home = PathBuf::from(std::env::var("HOME").ok()?);
        let python = home.join(".cache/payouts-signers/bin/python");
        let tronweb = home.join(".cache/payouts-tronweb/node_modules");
        if python.exists() && tronweb.join("tronweb").exists() {
            return Some(Signers { python, tronweb });
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true but the independent signers (~/.cache/payouts-signers, ~/.cache/payouts-tronweb) are missing"
            );
        }
        eprintln!("NOTICE: eth-account/PyNaCl/python-bitcoinlib or TronWeb not installed (see .ci/run): skipped");
        None
    }

    /// `family`: evm, tron, bitcoin, litecoin, solana; `kind` the Bitcoin-family address and header
    /// (see tests/proof/sign.py); `secret` 32 bytes.
    pub fn sign(&self, family: &str, kind: &str, secret: [u8; 32], message: &str) -> Signed {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proof");
        let key = hex::encode(secret);
        let out = if family == "tron" {
            Command::new("node")
                .env("NODE_PATH", &self.tronweb)
                .arg(dir.join("sign_tron.js"))
                .args([&key, message])
                .output()
        } else {
            Command::new(&self.python).arg(dir.join("sign.py")).args([family, kind, &key, message]).output()
        }
        .expect("the signer runs");
        assert!(out.status.success(), "signer {family}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from the signer");
        Signed { address: v["address"].as_str().unwrap().into(), signature: v["signature"].as_str().unwrap().into() }
    }
}
