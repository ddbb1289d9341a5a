//! The hot wallet's key inside a hardware security module: SoftHSM2 over PKCS#11. The key is
//! generated in the token by `payouts evm keygen` and cannot leave it; the batch contract is
//! deployed and a single and a batched mass payout are paid on anvil with signatures the token
//! made; a wrong PIN or a missing key stops the server at start with the reason. On both
//! databases.

mod common;
#[path = "evm/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use common::backends;
use harness::*;
use payouts::rails::evm::signer::{HsmSigner, Pkcs11Settings};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "payouts-test";
const KEY: &str = "hot-wallet";
const PIN: &str = "583920";

/// A fresh SoftHSM2 token store with one initialized token; None (skipped) without SoftHSM2,
/// unless CI=true.
fn token() -> Option<tempfile::TempDir> {
    let installed = Path::new(MODULE).is_file()
        && Command::new("softhsm2-util").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but SoftHSM2 is missing (Debian package softhsm2): the HSM signer would go untested");
        }
        eprintln!("NOTICE: SoftHSM2 not installed (apt-get install softhsm2): the HSM signer test is skipped");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().display()
        ),
    )
    .unwrap();
    // This file holds one test: the variable is set before any thread that reads it starts,
    // and every process it starts (the CLI, the server) finds the same token store.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let init = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "1029384756"])
        .output()
        .unwrap();
    assert!(init.status.success(), "softhsm2-util: {}", String::from_utf8_lossy(&init.stderr));
    std::fs::write(dir.path().join("pin"), PIN).unwrap();
    Some(dir)
}

fn settings(pin: &str, key: &str) -> Pkcs11Settings {
    Pkcs11Settings { module: MODULE.into(), token_label: TOKEN.into(), key_label: key.into(), pin: pin.into() }
}

fn keygen(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["evm", "keygen", "--pkcs11-module", MODULE, "--token-label", TOKEN, "--key-label", KEY, "--pin-file"])
        .arg(dir.join("pin"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// The chain's config file with the key named in the token instead of a private key.
fn hsm_config(chain: &Chain, dir: &Path, name: &str, pin_file: &Path, key: &str, batch: Option<Address>) -> PathBuf {
    let plain: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(chain.config_file(dir)).unwrap()).unwrap();
    let mut file = plain.as_object().unwrap().clone();
    file.insert(
        "signer".into(),
        serde_json::json!({"pkcs11": {"module": MODULE, "token_label": TOKEN, "key_label": key, "pin_file": pin_file}}),
    );
    if let Some(contract) = batch {
        file.insert("batch_contract".into(), format!("{contract:#x}").into());
        file.insert("batch_rows".into(), 10.into());
    }
    let path = dir.join(name);
    std::fs::write(&path, serde_json::Value::Object(file).to_string()).unwrap();
    path
}

fn cli(args: &[&str], config: &Path, books: &Books, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(args)
        .arg("--evm-config")
        .arg(config)
        .env("DATABASE_URL", &books.url)
        .env("PAYOUTS_DATA_DIR", dir)
        .env_remove("PAYOUTS_EVM_PRIVATE_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

alloy::sol! {
    function payEther(address[] to, uint256[] amounts);
}

#[test]
fn payouts_are_signed_inside_the_token_whose_key_cannot_leave_it() {
    let Some(hsm) = token() else { return };
    let made = keygen(hsm.path());
    assert!(made.status.success(), "keygen: {}", String::from_utf8_lossy(&made.stderr));
    let wallet: Address = String::from_utf8(made.stdout).unwrap().trim().parse().expect("keygen prints the address");
    let again = keygen(hsm.path());
    assert!(!again.status.success(), "a second key under the same label is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a key labelled"));

    let signer = HsmSigner::open(&settings(PIN, KEY)).unwrap();
    assert_eq!(signer.address(), wallet);
    let protection = signer.protection().unwrap();
    assert!(!protection.extractable && protection.sensitive && protection.never_extractable, "{protection:?}");
    drop(signer);
    let wrong = HsmSigner::open(&settings("000000", KEY)).err().expect("a wrong PIN is refused");
    assert!(wrong.contains("wrong PIN"), "{wrong}");
    let missing = HsmSigner::open(&settings(PIN, "no-such-key")).err().expect("a missing key is refused");
    assert!(missing.contains("no private key labelled \"no-such-key\""), "{missing}");

    let Some(chain) = chain_or_skip() else { return };
    let funder: PrivateKeySigner = WALLET_KEY.parse().unwrap();
    wait_mined(&chain.rpc, &send(&chain.rpc, &funder, TxKind::Call(wallet), units(100, 18), Default::default()));

    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let pin_file = hsm.path().join("pin");
        let plain = hsm_config(&chain, dir.path(), "hsm.json", &pin_file, KEY, None);
        let nonce_before = chain.nonce(wallet);
        let deployed = cli(&["evm", "deploy-batch"], &plain, &books, dir.path());
        assert!(deployed.status.success(), "[{backend:?}] deploy: {}", String::from_utf8_lossy(&deployed.stderr));
        let contract: Address = String::from_utf8(deployed.stdout).unwrap().trim().parse().unwrap();
        assert_eq!(chain.nonce(wallet), nonce_before + 1, "[{backend:?}] the token's wallet deployed the contract");
        let batched = hsm_config(&chain, dir.path(), "hsm-batched.json", &pin_file, KEY, Some(contract));

        let base = 10_000 + 100 * round as u64;
        let single = books.pay("ETH", &[(recipient(base), "1.5")], &format!("hsm-single-{round}"));
        let rows: Vec<(Address, &str)> = (1..=25).map(|n| (recipient(base + n), "0.01")).collect();
        // Recipients that already exist: ether to them costs less in a batch than one by one,
        // so the rail batches (tests/evm_batch.rs measures the choice).
        let to: Vec<Address> = rows.iter().map(|(a, _)| *a).collect();
        let input = payEtherCall { to: to.clone(), amounts: vec![U256::from(1); to.len()] }.abi_encode();
        wait_mined(&chain.rpc, &send(&chain.rpc, &funder, TxKind::Call(contract), U256::from(to.len()), input.into()));
        let mass = books.pay("ETH", &rows, &format!("hsm-mass-{round}"));
        let mut server = books.serve_with(batched, dir.path(), "");
        assert_eq!(books.wait_end(single), "completed", "[{backend:?}]");
        assert_eq!(books.wait_end(mass), "completed", "[{backend:?}]");
        let _ = server.0.kill();
        assert_eq!(chain.eth(recipient(base)), units(15, 17), "[{backend:?}] the single payout arrived");
        for (to, _) in &rows {
            assert_eq!(chain.eth(*to), units(1, 16) + U256::from(1), "[{backend:?}] every row arrived");
        }
        let items = books.items(mass);
        let hashes: std::collections::HashSet<&str> = items.iter().filter_map(|i| i.tx_hash.as_deref()).collect();
        assert_eq!(hashes.len(), 3, "[{backend:?}] 25 rows in batches of 10: three transactions");
        let report = payouts::service::payouts::verify::verify(&mut books.state.pool.get().unwrap()).unwrap();
        assert!(report.is_whole(), "[{backend:?}] {:?}", report.problems);

        // A server whose token refuses it stops at start and says why.
        let wrong_pin = hsm.path().join("wrong-pin");
        std::fs::write(&wrong_pin, "111111").unwrap();
        for (name, pin, key, reason) in [
            ("wrong-pin.json", wrong_pin.as_path(), KEY, "wrong PIN"),
            ("missing-key.json", pin_file.as_path(), "gone", "no private key labelled \"gone\""),
        ] {
            let config = hsm_config(&chain, dir.path(), name, pin, key, None);
            let started = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_payouts"))
                .args(["serve", "--bind", "127.0.0.1:0", "--evm-config"])
                .arg(&config)
                .env("DATABASE_URL", &books.url)
                .env("PAYOUTS_DATA_DIR", dir.path())
                .env("RUST_LOG", "warn")
                .output()
                .unwrap();
            assert!(!out.status.success(), "[{backend:?}] {name}: the server must not start");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(reason),
                "[{backend:?}] {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(started.elapsed() < Duration::from_secs(30), "[{backend:?}] it says so at once");
        }
    }
}
