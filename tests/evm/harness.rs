//! What the EVM tests share: anvil with the test token deployed, a database with the demo
//! organization, and the real server paying on the chain.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use payouts::db::Backend;
use payouts::domain::account::Role;
use payouts::domain::asset::find;
use payouts::domain::payout::PayoutKind;
use payouts::domain::registry::{Row, RowInput};
use payouts::rails::evm::rpc::{Call, Rpc};
use payouts::service::access::Actor;
use payouts::service::payouts as payout_service;
use payouts::service::payouts::bootstrap;
use payouts::service::payouts::ledger;
use payouts::{AppState, Config};

use crate::common::{Process, TestDb, free_port};

/// anvil's first two default accounts (public test keys, funded with 10,000 ETH each).
pub const WALLET_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const TOKENLESS_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const CHAIN_ID: u64 = 31337;
pub const TOKEN_BIN: &str = include_str!("TestToken.bin");

alloy::sol! {
    function balanceOf(address owner) returns (uint256);
}

pub fn anvil_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PAYOUTS_ANVIL") {
        return Some(PathBuf::from(p));
    }
    let cached = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/payouts-anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"));
    let on_path =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("anvil")).find(|p| p.is_file()));
    on_path.or(cached.filter(|p| p.is_file()))
}

/// A local chain mining a block every second, with the test token deployed by the wallet.
pub struct Chain {
    _anvil: Process,
    pub url: String,
    pub rpc: Rpc,
    pub token: Address,
}

impl Chain {
    pub fn start(anvil_bin: &Path) -> Chain {
        let (anvil, url) = (0..5)
            .find_map(|_| Self::launch(anvil_bin))
            .expect("anvil starts and answers on a free port within five tries");
        let rpc = Rpc::new(&url);
        let supply = U256::from(1_000_000u64) * U256::from(1_000_000u64); // 1,000,000 tokens
        let mut code = alloy::hex::decode(TOKEN_BIN.trim()).expect("token bytecode");
        code.extend(supply.abi_encode());
        let wallet: PrivateKeySigner = WALLET_KEY.parse().unwrap();
        let nonce = rpc.pending_nonce(wallet.address()).unwrap();
        let hash = send(&rpc, &wallet, TxKind::Create, U256::ZERO, code.into());
        wait_mined(&rpc, &hash);
        let token = wallet.address().create(nonce);
        Chain { _anvil: anvil, url, rpc, token }
    }

    /// One try: a port that was free a moment ago may be taken by a parallel test's process
    /// before anvil binds it, so the chain must answer as itself before it counts as started.
    pub fn launch(anvil: &Path) -> Option<(Process, String)> {
        let port = free_port();
        let child = Command::new(anvil)
            .args(["--port", &port.to_string(), "--block-time", "1", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil runs");
        let mut process = Process(child);
        let url = format!("http://127.0.0.1:{port}");
        let rpc = Rpc::with_timeout(&url, Duration::from_secs(2));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if process.0.try_wait().ok().flatten().is_some() {
                return None;
            }
            if rpc.chain_id().is_ok_and(|id| id == CHAIN_ID) {
                return Some((process, url));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn eth(&self, who: Address) -> U256 {
        self.rpc.balance(who).unwrap()
    }

    pub fn tokens(&self, who: Address) -> U256 {
        let input = balanceOfCall { owner: who }.abi_encode().into();
        let call = Call { from: who, to: self.token, value: U256::ZERO, input };
        balanceOfCall::abi_decode_returns(&self.rpc.eth_call(&call).unwrap()).unwrap()
    }

    pub fn nonce(&self, who: Address) -> u64 {
        self.rpc.pending_nonce(who).unwrap()
    }

    pub fn config_file(&self, dir: &Path) -> PathBuf {
        self.config_with_cap(dir, 500)
    }

    pub fn config_with_cap(&self, dir: &Path, max_fee_gwei: u64) -> PathBuf {
        let path = dir.join(format!("evm-{max_fee_gwei}.json"));
        let body = serde_json::json!({
            "rpc_url": self.url,
            "chain_id": CHAIN_ID,
            "confirmations": 2,
            "max_fee_per_gas_gwei": max_fee_gwei,
            "assets": {"ETH": {}, "USDT_ERC20": {"token": format!("{:#x}", self.token), "decimals": 6}},
        });
        std::fs::write(&path, body.to_string()).unwrap();
        path
    }
}

/// Signs and sends a transaction from `signer`, as a wallet outside the product would.
pub fn send(rpc: &Rpc, signer: &PrivateKeySigner, to: TxKind, value: U256, input: Bytes) -> String {
    let (hash, raw) = sign(rpc, signer, to, value, input);
    rpc.send_raw(&raw).unwrap();
    hash
}

/// A signed transaction with the wallet's next nonce: (hash, raw bytes).
pub fn sign(rpc: &Rpc, signer: &PrivateKeySigner, to: TxKind, value: U256, input: Bytes) -> (String, Bytes) {
    sign_with_gas(rpc, signer, to, value, input, 3_000_000)
}

/// [`sign`] with a gas limit of its own.
pub fn sign_with_gas(
    rpc: &Rpc,
    signer: &PrivateKeySigner,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> (String, Bytes) {
    let (base, tip) = rpc.fees().unwrap();
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: rpc.pending_nonce(signer.address()).unwrap(),
        gas_limit,
        max_fee_per_gas: base * 2 + tip,
        max_priority_fee_per_gas: tip,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    (format!("{:#x}", envelope.tx_hash()), envelope.encoded_2718().into())
}

pub fn wait_mined(rpc: &Rpc, hash: &str) {
    let started = Instant::now();
    while rpc.receipt(hash.parse().unwrap()).unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "{hash} never mined");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh database with the demo organization (20,000 USDT_ERC20 and 12.5 ETH on its ledger).
pub struct Books {
    pub state: AppState,
    pub actor: Actor,
    pub url: String,
    _db: TestDb,
}

impl Books {
    pub fn open(backend: Backend) -> Books {
        let (db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 2, Config::default(), None).unwrap();
        let mut conn = state.pool.get().unwrap();
        bootstrap::initialize(&mut conn, true, "", "").unwrap();
        let user = payouts::db::users::find_by_email(&mut conn, "accountant@demo.local").unwrap().unwrap();
        let actor = Actor::of_user(user, Role::Accountant);
        drop(conn);
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", url.target()),
            Backend::Postgres => url.target().to_owned(),
        };
        Books { state, actor, url, _db: db }
    }

    /// Creates and queues a payout of (address, amount) rows; returns its id.
    pub fn pay(&self, asset: &str, rows: &[(Address, &str)], key: &str) -> i64 {
        let asset = find(asset).unwrap();
        let kind = if rows.len() == 1 { PayoutKind::Single } else { PayoutKind::Mass };
        let rows: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(n, (to, amount))| {
                let address = to.to_checksum(None);
                Row::check(asset, n as u64 + 1, &RowInput { address: &address, amount, ..Default::default() })
            })
            .collect();
        let mut conn = self.state.pool.get().unwrap();
        let draft = payout_service::price(&mut conn, &self.actor, kind, asset, "EVM test", rows).unwrap();
        payout_service::create(&mut conn, &self.actor, &draft, key).unwrap().payout.id
    }

    pub fn status(&self, payout: i64) -> String {
        payouts::db::payouts::find(&mut self.state.pool.get().unwrap(), payout).unwrap().status.as_str().to_owned()
    }

    pub fn wait_end(&self, payout: i64) -> String {
        let started = Instant::now();
        loop {
            let status = self.status(payout);
            if !["pending", "in_progress"].contains(&status.as_str()) {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(90), "payout {payout} still {status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn items(&self, payout: i64) -> Vec<payouts::db::payouts::ItemRow> {
        payouts::db::payouts::items(&mut self.state.pool.get().unwrap(), payout).unwrap()
    }

    pub fn item_errors(&self, payout: i64) -> Vec<Option<String>> {
        let mut conn = self.state.pool.get().unwrap();
        payouts::db::payouts::items(&mut conn, payout).unwrap().into_iter().map(|i| i.error).collect()
    }

    pub fn reserved_and_available(&self, asset: &str) -> (String, String) {
        let mut conn = self.state.pool.get().unwrap();
        let b = ledger::balance_of(&mut conn, self.actor.org_id, find(asset).unwrap()).unwrap();
        (b.reserved.to_string(), b.available.to_string())
    }

    /// The real server, paying ETH and USDT_ERC20 on `chain` from the wallet with `key`.
    pub fn serve(&self, chain: &Chain, dir: &Path, key: &str) -> Process {
        self.serve_with(chain.config_file(dir), dir, key)
    }

    pub fn serve_with(&self, config: PathBuf, dir: &Path, key: &str) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_payouts"))
            .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
            .args(["--processor-interval-ms", "100", "--processor-lease-seconds", "2"])
            .arg("--evm-config")
            .arg(config)
            .env("DATABASE_URL", &self.url)
            .env("PAYOUTS_DATA_DIR", dir)
            .env("PAYOUTS_EVM_PRIVATE_KEY", key)
            .env("RUST_LOG", "warn")
            .stdout(if std::env::var_os("PAYOUTS_SERVER_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        Process(child)
    }
}

pub fn recipient(n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0x5a;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

pub fn units(whole: u64, decimals: u32) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(decimals))
}

pub fn chain_or_skip() -> Option<Chain> {
    match anvil_binary() {
        Some(anvil) => Some(Chain::start(&anvil)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but anvil is missing: the EVM rail would go untested")
        }
        None => {
            eprintln!("NOTICE: anvil not found (npm @foundry-rs/anvil-linux-amd64): the EVM rail tests are skipped");
            None
        }
    }
}
