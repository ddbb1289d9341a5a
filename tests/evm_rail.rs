//! The EVM rail against a real local chain: anvil (from the npm package
//! `@foundry-rs/anvil-linux-amd64`, installed by `.ci/run`), with a small ERC-20 token
//! (tests/evm/TestToken.sol, its compiled bytecode beside it) deployed at the start. The real
//! server binary pays; the chain itself is asked what arrived.
//!
//! Without anvil the tests are skipped with a notice, except with `CI=true`. `PAYOUTS_ANVIL`
//! points at another anvil binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use common::{Process, TestDb, backends, free_port};
use payouts::db::Backend;
use payouts::domain::account::Role;
use payouts::domain::asset::find;
use payouts::domain::payout::PayoutKind;
use payouts::domain::registry::{Row, RowInput};
use payouts::rails::evm::rpc::{Call, Rpc};
use payouts::service::{Actor, bootstrap, ledger, payouts as payout_service};
use payouts::{AppState, Config};

/// anvil's first two default accounts (public test keys, funded with 10,000 ETH each).
const WALLET_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const TOKENLESS_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const CHAIN_ID: u64 = 31337;
const TOKEN_BIN: &str = include_str!("evm/TestToken.bin");

alloy::sol! {
    function balanceOf(address owner) returns (uint256);
}

fn anvil_binary() -> Option<PathBuf> {
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
struct Chain {
    _anvil: Process,
    url: String,
    rpc: Rpc,
    token: Address,
}

impl Chain {
    fn start(anvil_bin: &Path) -> Chain {
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
    fn launch(anvil: &Path) -> Option<(Process, String)> {
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

    fn eth(&self, who: Address) -> U256 {
        self.rpc.balance(who).unwrap()
    }

    fn tokens(&self, who: Address) -> U256 {
        let input = balanceOfCall { owner: who }.abi_encode().into();
        let call = Call { from: who, to: self.token, value: U256::ZERO, input };
        balanceOfCall::abi_decode_returns(&self.rpc.eth_call(&call).unwrap()).unwrap()
    }

    fn nonce(&self, who: Address) -> u64 {
        self.rpc.pending_nonce(who).unwrap()
    }

    fn config_file(&self, dir: &Path) -> PathBuf {
        self.config_with_cap(dir, 500)
    }

    fn config_with_cap(&self, dir: &Path, max_fee_gwei: u64) -> PathBuf {
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
fn send(rpc: &Rpc, signer: &PrivateKeySigner, to: TxKind, value: U256, input: Bytes) -> String {
    let (hash, raw) = sign(rpc, signer, to, value, input);
    rpc.send_raw(&raw).unwrap();
    hash
}

/// A signed transaction with the wallet's next nonce: (hash, raw bytes).
fn sign(rpc: &Rpc, signer: &PrivateKeySigner, to: TxKind, value: U256, input: Bytes) -> (String, Bytes) {
    let (base, tip) = rpc.fees().unwrap();
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: rpc.pending_nonce(signer.address()).unwrap(),
        gas_limit: 3_000_000,
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

fn wait_mined(rpc: &Rpc, hash: &str) {
    let started = Instant::now();
    while rpc.receipt(hash.parse().unwrap()).unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "{hash} never mined");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh database with the demo organization (20,000 USDT_ERC20 and 12.5 ETH on its ledger).
struct Books {
    state: AppState,
    actor: Actor,
    url: String,
    _db: TestDb,
}

impl Books {
    fn open(backend: Backend) -> Books {
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
    fn pay(&self, asset: &str, rows: &[(Address, &str)], key: &str) -> i64 {
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

    fn status(&self, payout: i64) -> String {
        payouts::db::payouts::find(&mut self.state.pool.get().unwrap(), payout).unwrap().status
    }

    fn wait_end(&self, payout: i64) -> String {
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

    fn item_errors(&self, payout: i64) -> Vec<Option<String>> {
        let mut conn = self.state.pool.get().unwrap();
        payouts::db::payouts::items(&mut conn, payout).unwrap().into_iter().map(|i| i.error).collect()
    }

    fn reserved_and_available(&self, asset: &str) -> (String, String) {
        let mut conn = self.state.pool.get().unwrap();
        let b = ledger::balance_of(&mut conn, self.actor.org_id, find(asset).unwrap()).unwrap();
        (b.reserved.to_string(), b.available.to_string())
    }

    /// The real server, paying ETH and USDT_ERC20 on `chain` from the wallet with `key`.
    fn serve(&self, chain: &Chain, dir: &Path, key: &str) -> Process {
        self.serve_with(chain.config_file(dir), dir, key)
    }

    fn serve_with(&self, config: PathBuf, dir: &Path, key: &str) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_payouts"))
            .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
            .args(["--processor-interval-ms", "100", "--processor-lease-seconds", "2"])
            .arg("--evm-config")
            .arg(config)
            .env("DATABASE_URL", &self.url)
            .env("PAYOUTS_DATA_DIR", dir)
            .env("PAYOUTS_EVM_PRIVATE_KEY", key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        Process(child)
    }
}

fn recipient(n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0x5a;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

fn units(whole: u64, decimals: u32) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(decimals))
}

fn chain_or_skip() -> Option<Chain> {
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

#[test]
fn eth_and_token_payouts_arrive_on_chain() {
    let Some(chain) = chain_or_skip() else { return };
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let base = 1_000 * (round as u64 + 1);
        let (to_eth, to_token) = (recipient(base + 1), recipient(base + 2));
        let eth = books.pay("ETH", &[(to_eth, "0.25")], &format!("eth-{backend:?}"));
        let token = books.pay("USDT_ERC20", &[(to_token, "150.5")], &format!("token-{backend:?}"));
        let mass: Vec<(Address, &str)> = (0..100).map(|n| (recipient(base + 100 + n), "10")).collect();
        let wallet = WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address();
        let nonce_before = chain.nonce(wallet);
        let mass_id = books.pay("USDT_ERC20", &mass, &format!("mass-{backend:?}"));
        let _server = books.serve(&chain, dir.path(), WALLET_KEY);

        assert_eq!(books.wait_end(eth), "completed", "[{backend:?}]");
        assert_eq!(books.wait_end(token), "completed", "[{backend:?}]");
        assert_eq!(books.wait_end(mass_id), "completed", "[{backend:?}]");
        let mut conn = books.state.pool.get().unwrap();
        for id in [eth, token, mass_id] {
            for item in payouts::db::payouts::items(&mut conn, id).unwrap() {
                assert!(item.confirmations >= 2, "[{backend:?}] completed only at the configured depth: {item:?}");
                assert!(item.tx_hash.is_some_and(|h| h.len() == 66), "[{backend:?}] the chain's transaction hash");
            }
        }
        drop(conn);
        assert_eq!(chain.eth(to_eth), units(25, 16), "[{backend:?}] 0.25 ETH arrived");
        assert_eq!(chain.tokens(to_token), U256::from(150_500_000u64), "[{backend:?}] 150.5 tokens arrived");
        for (to, _) in &mass {
            assert_eq!(chain.tokens(*to), units(10, 6), "[{backend:?}] every mass-payout row arrived once");
        }
        assert_eq!(chain.nonce(wallet) - nonce_before, 102, "[{backend:?}] one transaction per row, none twice");
        assert_eq!(books.reserved_and_available("USDT_ERC20").0, "0", "[{backend:?}] nothing left reserved");
    }
}

#[test]
fn a_reverted_transfer_fails_the_item_and_releases_its_funds() {
    let Some(chain) = chain_or_skip() else { return };
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let before = books.reserved_and_available("USDT_ERC20");
        // This wallet has ETH for gas but holds none of the token: the transfer reverts.
        let payout = books.pay("USDT_ERC20", &[(recipient(5_000 + round as u64), "75")], "revert");
        let _server = books.serve(&chain, dir.path(), TOKENLESS_KEY);
        assert_eq!(books.wait_end(payout), "failed", "[{backend:?}]");
        let errors = books.item_errors(payout);
        assert!(errors[0].as_deref().is_some_and(|e| e.contains("reverted")), "[{backend:?}] {errors:?}");
        assert_eq!(books.reserved_and_available("USDT_ERC20"), before, "[{backend:?}] the reservation was released");
        assert_eq!(chain.tokens(recipient(5_000 + round as u64)), U256::ZERO);
    }
}

#[test]
fn a_processor_killed_after_broadcasting_pays_every_recipient_once_after_restart() {
    let Some(chain) = chain_or_skip() else { return };
    let wallet = WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address();
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let base = 10_000 * (round as u64 + 1);
        let rows: Vec<(Address, &str)> = (0..30).map(|n| (recipient(base + n), "3")).collect();
        let nonce_before = chain.nonce(wallet);
        let payout = books.pay("USDT_ERC20", &rows, "crash");
        let mut server = books.serve(&chain, dir.path(), WALLET_KEY);
        let started = Instant::now();
        // Killed in the middle of the batch: some rows signed, stored and broadcast but not yet
        // recorded as sent, the rest not yet signed.
        while chain.nonce(wallet) < nonce_before + 15 {
            assert!(started.elapsed() < Duration::from_secs(30), "[{backend:?}] nothing was broadcast");
            std::thread::sleep(Duration::from_millis(2));
        }
        server.0.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
        server.0.wait().unwrap();
        let broadcast_at_kill = chain.nonce(wallet) - nonce_before;
        eprintln!("[{backend:?}] killed after {broadcast_at_kill} of 30 transactions reached the node");

        let _server = books.serve(&chain, dir.path(), WALLET_KEY);
        assert_eq!(books.wait_end(payout), "completed", "[{backend:?}] after {broadcast_at_kill} at kill");
        for (to, _) in &rows {
            assert_eq!(chain.tokens(*to), units(3, 6), "[{backend:?}] every recipient paid exactly once");
        }
        assert_eq!(chain.nonce(wallet) - nonce_before, 30, "[{backend:?}] 30 transactions, none signed twice");
    }
}

/// The pages with a real chain configured: the dashboard shows the hot wallet's balance read from
/// the chain beside the ledger and warns when it cannot cover what is reserved; the review shows
/// the network's fee apart from the service fee.
#[actix_web::test]
async fn pages_show_the_hot_wallet_and_the_network_fee() {
    use payouts::rails::evm::{EvmRail, config::EvmConfig};
    let Some(chain) = chain_or_skip() else { return };
    for backend in backends() {
        for (key, holds_tokens) in [(WALLET_KEY, true), (TOKENLESS_KEY, false)] {
            let dir = tempfile::tempdir().unwrap();
            let mut app = common::TestApp::start(backend).await;
            let config = EvmConfig::load(&chain.config_file(dir.path()), Some(key.into())).unwrap();
            let rail = EvmRail::connect(config, app.state.pool.clone()).unwrap();
            let wallet = rail.wallet();
            app.state.chains = std::sync::Arc::new(vec![std::sync::Arc::new(rail)]);
            let mut c = app.client().await;
            c.login("accountant@demo.local", "demo").await;

            let review = c
                .post_form(
                    "/payouts/new/single",
                    &[("asset", "USDT_ERC20"), ("amount", "100"), ("address", &recipient(77).to_checksum(None))],
                )
                .await;
            assert!(review.body.contains("Network fee"), "[{backend:?}] {}", review.body);
            assert!(review.body.contains(" ETH</span>") && review.body.contains("paid by the hot wallet"));
            let res = c.single_payout("USDT_ERC20", "100", &recipient(77).to_checksum(None), "wallet test").await;
            assert_eq!(res.status, actix_web::http::StatusCode::SEE_OTHER, "[{backend:?}]");

            let key =
                payouts::service::api_keys::create_from_cli(&mut app.conn(), "accountant@demo.local", "read", "t")
                    .unwrap();
            let quote = serde_json::json!({"asset": "USDT_ERC20", "kind": "mass", "purpose": "q",
                "items": [{"address": recipient(1).to_checksum(None), "amount": "5"}, {"address": recipient(2).to_checksum(None), "amount": "5"}]});
            let res = c
                .send(
                    actix_web::test::TestRequest::post()
                        .uri("/api/v1/payouts/quote")
                        .insert_header(("Authorization", format!("Bearer {key}")))
                        .insert_header(("Content-Type", "application/json"))
                        .set_payload(quote.to_string()),
                )
                .await;
            let quoted: serde_json::Value = serde_json::from_str(&res.body).unwrap();
            assert_eq!(quoted["network_fee"]["asset"], "ETH", "[{backend:?}] {quoted}");
            let wei =
                payouts::domain::Amount::parse(find("ETH").unwrap(), quoted["network_fee"]["amount"].as_str().unwrap())
                    .unwrap()
                    .minor();
            assert!(wei >= 2 * 21_000, "[{backend:?}] two token transfers cost gas: {quoted}");

            let dashboard = c.get("/").await.body;
            assert!(dashboard.contains("Hot wallet on chain"), "[{backend:?}]");
            let held = chain.tokens(wallet);
            let shown =
                find("USDT_ERC20").map(|a| payouts::domain::Amount::from_minor(a, held.to::<u128>() as i128).grouped());
            assert!(
                dashboard.contains(&format!("{} <span class=\"code\">USDT_ERC20", shown.unwrap())),
                "[{backend:?}]"
            );
            let warned = dashboard.contains("less than the reserved amount");
            assert_eq!(
                warned, !holds_tokens,
                "[{backend:?}] warning shown only when the wallet cannot cover 100 reserved"
            );
            assert!(dashboard.contains("<span class=\"muted\">simulated</span>"), "assets without a chain say so");
        }
    }
}

#[test]
fn two_processors_on_one_database_pay_every_row_once_with_distinct_nonces() {
    let Some(chain) = chain_or_skip() else { return };
    let wallet = WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address();
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let base = 20_000 * (round as u64 + 1);
        let nonce_before = chain.nonce(wallet);
        let payouts: Vec<(i64, Vec<Address>)> = (0..4u64)
            .map(|p| {
                let rows: Vec<(Address, &str)> = (0..10).map(|n| (recipient(base + p * 100 + n), "2")).collect();
                let id = books.pay("USDT_ERC20", &rows, &format!("parallel-{p}"));
                (id, rows.into_iter().map(|(a, _)| a).collect())
            })
            .collect();
        let _one = books.serve(&chain, dir.path(), WALLET_KEY);
        let _two = books.serve(&chain, dir.path(), WALLET_KEY);
        for (id, recipients) in &payouts {
            assert_eq!(books.wait_end(*id), "completed", "[{backend:?}]");
            for to in recipients {
                assert_eq!(chain.tokens(*to), units(2, 6), "[{backend:?}] paid exactly once");
            }
        }
        assert_eq!(chain.nonce(wallet) - nonce_before, 40, "[{backend:?}] 40 transactions for 40 rows");
    }
}

#[test]
fn above_the_fee_cap_nothing_is_sent_and_assets_without_a_chain_are_not_simulated() {
    let Some(chain) = chain_or_skip() else { return };
    let wallet = WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let backend = backends()[0];
    let dir = tempfile::tempdir().unwrap();
    let books = Books::open(backend);
    let nonce_before = chain.nonce(wallet);
    let payout = books.pay("ETH", &[(recipient(30_001), "0.1")], "capped");
    let tron = {
        let mut conn = books.state.pool.get().unwrap();
        let form = payout_service::SinglePayoutForm {
            asset: "USDT_TRC20".into(),
            amount: "5".into(),
            description: "no chain for this one".into(),
            address: common::tron_address(1),
        };
        let draft = payout_service::check_single(&mut conn, &books.actor, &form).unwrap();
        payout_service::create(&mut conn, &books.actor, &draft, "tron").unwrap().payout.id
    };
    let _server = books.serve_with(chain.config_with_cap(dir.path(), 0), dir.path(), WALLET_KEY);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(books.status(payout), "in_progress", "it waits for cheaper gas");
    assert_eq!(chain.nonce(wallet), nonce_before, "nothing was signed and sent");
    assert_eq!(chain.eth(recipient(30_001)), U256::ZERO);
    assert_eq!(books.status(tron), "in_progress", "with a real chain configured nothing is paid by simulation");
    use diesel::prelude::*;
    let simulated: i64 =
        payouts::db::schema::sim_transfers::table.count().get_result(&mut **books.state.pool.get().unwrap()).unwrap();
    assert_eq!(simulated, 0, "the simulated network sent nothing");
}

/// A stored transaction that never reached the node, whose nonce another transaction of the
/// wallet then took, can never be mined: the look-up says Failed, with the reason.
#[test]
fn a_transaction_whose_nonce_was_taken_is_failed_as_dropped() {
    use payouts::rails::Rail;
    use payouts::rails::evm::{EvmRail, config::EvmConfig};
    let Some(chain) = chain_or_skip() else { return };
    let backend = backends()[0];
    let dir = tempfile::tempdir().unwrap();
    let books = Books::open(backend);
    let wallet: PrivateKeySigner = WALLET_KEY.parse().unwrap();
    let config = EvmConfig::load(&chain.config_file(dir.path()), Some(WALLET_KEY.into())).unwrap();
    let rail = EvmRail::connect(config, books.state.pool.clone()).unwrap();
    let nonce = chain.nonce(wallet.address());
    let (lost, raw) = sign(&chain.rpc, &wallet, TxKind::Call(recipient(40_001)), U256::from(1), Bytes::new());
    let row = payouts::db::evm::EvmTxRow {
        idempotency_key: "lost-item".into(),
        chain_id: CHAIN_ID as i64,
        from_address: format!("{:#x}", wallet.address()),
        nonce: nonce as i64,
        tx_hash: lost,
        raw_tx: raw.to_string(),
        created_at: payouts::service::now(),
    };
    payouts::db::evm::insert(&mut books.state.pool.get().unwrap(), &row).unwrap();
    let other = send(&chain.rpc, &wallet, TxKind::Call(recipient(40_002)), U256::from(1), Bytes::new());
    wait_mined(&chain.rpc, &other);
    let found = rail.lookup("lost-item").unwrap().expect("stored");
    match found.state {
        payouts::rails::TxState::Failed { reason } => assert!(reason.contains("dropped"), "{reason}"),
        state => panic!("expected Failed, got {state:?}"),
    }
    assert_eq!(chain.eth(recipient(40_001)), U256::ZERO, "the lost transaction paid nothing");
}

/// A wallet without ETH signs nothing (no nonce is reserved that the node would refuse) and the
/// payout waits; once the wallet is funded it is paid.
#[test]
fn an_unfunded_wallet_reserves_no_nonce_and_pays_once_funded() {
    let Some(chain) = chain_or_skip() else { return };
    let backend = backends()[0];
    let dir = tempfile::tempdir().unwrap();
    let books = Books::open(backend);
    let empty = PrivateKeySigner::random();
    let key = format!("0x{}", alloy::hex::encode(empty.to_bytes()));
    let payout = books.pay("ETH", &[(recipient(50_001), "0.5")], "unfunded");
    let _server = books.serve(&chain, dir.path(), &key);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(books.status(payout), "in_progress");
    let stored: i64 = {
        use diesel::prelude::*;
        payouts::db::schema::evm_transactions::table.count().get_result(&mut **books.state.pool.get().unwrap()).unwrap()
    };
    assert_eq!(stored, 0, "nothing signed while the wallet cannot pay");
    let funder: PrivateKeySigner = WALLET_KEY.parse().unwrap();
    let funding = send(&chain.rpc, &funder, TxKind::Call(empty.address()), units(1, 18), Bytes::new());
    wait_mined(&chain.rpc, &funding);
    assert_eq!(books.wait_end(payout), "completed");
    assert_eq!(chain.eth(recipient(50_001)), units(5, 17));
    assert_eq!(chain.nonce(empty.address()), 1, "one transaction, nonce 0");
}
