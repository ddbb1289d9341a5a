//! Mass payouts through the PayoutBatch contract on anvil, on every backend: deployed with
//! `payouts evm deploy-batch`, 250-row ETH and token payouts paid in chunks (every recipient's
//! balance read from the chain, each row with its chunk's hash and its own log index), a row the
//! chain would refuse failed alone before sending, and a server killed between chunks paying
//! everyone exactly once after a restart.

mod common;
#[path = "evm/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use common::backends;
use diesel::prelude::*;
use harness::*;

fn wallet() -> Address {
    WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address()
}

/// `payouts evm deploy-batch` against the books' database: the contract's address.
fn deploy(books: &Books, config: &Path, dir: &Path) -> Address {
    let out = Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["evm", "deploy-batch", "--evm-config"])
        .arg(config)
        .env("DATABASE_URL", &books.url)
        .env("PAYOUTS_DATA_DIR", dir)
        .env("PAYOUTS_EVM_PRIVATE_KEY", WALLET_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the CLI runs");
    assert!(out.status.success(), "deploy-batch failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().parse().expect("the contract's address")
}

/// A fresh database and the batch contract deployed for it by the CLI.
fn deployed(chain: &Chain, backend: payouts::db::Backend) -> (tempfile::TempDir, Books, Address) {
    let dir = tempfile::tempdir().unwrap();
    let books = Books::open(backend);
    let contract = deploy(&books, &chain.config_file(dir.path()), dir.path());
    (dir, books, contract)
}

/// The chain's config file with the batch contract and `rows` rows per batch transaction.
fn batched_config(chain: &Chain, dir: &Path, contract: Address, rows: usize) -> PathBuf {
    let plain: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(chain.config_file(dir)).unwrap()).unwrap();
    let mut file = plain.as_object().unwrap().clone();
    file.insert("batch_contract".into(), format!("{contract:#x}").into());
    file.insert("batch_rows".into(), rows.into());
    let path = dir.join(format!("evm-batched-{rows}.json"));
    std::fs::write(&path, serde_json::Value::Object(file).to_string()).unwrap();
    path
}

alloy::sol! {
    function payEther(address[] to, uint256[] amounts);
}

/// Gives each address one wei from another wallet, through the contract: afterwards they exist,
/// and ether to them costs a batch less gas than a transaction each.
fn make_exist(chain: &Chain, contract: Address, addresses: &[Address]) {
    use alloy::sol_types::SolCall;
    let other: PrivateKeySigner = TOKENLESS_KEY.parse().unwrap();
    for chunk in addresses.chunks(60) {
        let input = payEtherCall { to: chunk.to_vec(), amounts: vec![U256::from(1); chunk.len()] }.abi_encode();
        let value = U256::from(chunk.len());
        wait_mined(
            &chain.rpc,
            &send(&chain.rpc, &other, alloy::primitives::TxKind::Call(contract), value, input.into()),
        );
    }
}

fn items(books: &Books, payout: i64) -> Vec<payouts::db::payouts::ItemRow> {
    payouts::db::payouts::items(&mut books.state.pool.get().unwrap(), payout).unwrap()
}

#[test]
fn the_contract_matches_its_source() {
    let Some(node) =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("node")).find(|p| p.is_file()))
    else {
        eprintln!("NOTICE: node not found: PayoutBatch.bin is not recompiled");
        return;
    };
    let solc = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/payouts-solc/node_modules"));
    let Some(solc) = solc.filter(|p| p.join("solc").is_dir()) else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true but solc is missing from ~/.cache/payouts-solc: the batch contract's bytecode would go unchecked"
        );
        eprintln!("NOTICE: npm solc@0.8.28 not in ~/.cache/payouts-solc: PayoutBatch.bin is not recompiled");
        return;
    };
    let out = Command::new(node)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/compile.js"))
        .arg("--check")
        .env("NODE_PATH", solc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn mass_payouts_of_250_rows_go_out_in_chunks_and_pay_everyone_once() {
    let Some(chain) = chain_or_skip() else { return };
    for (round, backend) in backends().into_iter().enumerate() {
        let (dir, books, contract) = deployed(&chain, backend);
        let base = 100_000 * (round as u64 + 1);
        let token_rows: Vec<(Address, &str)> = (0..250).map(|n| (recipient(base + n), "7.25")).collect();
        let eth_rows: Vec<(Address, &str)> = (0..250).map(|n| (recipient(base + 1_000 + n), "0.004")).collect();
        make_exist(&chain, contract, &eth_rows.iter().map(|(a, _)| *a).collect::<Vec<_>>());
        let nonce_before = chain.nonce(wallet());
        let token = books.pay("USDT_ERC20", &token_rows, &format!("batch-token-{backend:?}"));
        let eth = books.pay("ETH", &eth_rows, &format!("batch-eth-{backend:?}"));
        let _server = books.serve_with(batched_config(&chain, dir.path(), contract, 100), dir.path(), WALLET_KEY);

        assert_eq!(books.wait_end(token), "completed", "[{backend:?}]");
        assert_eq!(books.wait_end(eth), "completed", "[{backend:?}]");
        for (to, _) in &token_rows {
            assert_eq!(chain.tokens(*to), U256::from(7_250_000u64), "[{backend:?}] every token row arrived once");
        }
        for (to, _) in &eth_rows {
            assert_eq!(chain.eth(*to), units(4, 15) + U256::from(1), "[{backend:?}] every ETH row arrived once");
        }
        // One approval of the token for the contract, then three chunks per payout.
        assert_eq!(chain.nonce(wallet()) - nonce_before, 1 + 3 + 3, "[{backend:?}] a handful of transactions");
        for id in [token, eth] {
            let rows = items(&books, id);
            let mut hashes: Vec<&str> = rows.iter().filter_map(|i| i.tx_hash.as_deref()).collect();
            hashes.dedup();
            assert_eq!(hashes.len(), 3, "[{backend:?}] rows share their chunk's hash");
            for chunk in rows.chunks(100) {
                let mut logs: Vec<i32> =
                    chunk.iter().map(|i| i.log_index.expect("each row has its log index")).collect();
                logs.sort();
                logs.dedup();
                assert_eq!(logs.len(), chunk.len(), "[{backend:?}] distinct log indexes within a chunk");
            }
        }
        // The results file names each row's transaction and its own log index in it.
        let csv =
            payouts::service::payouts::results_csv(&mut books.state.pool.get().unwrap(), &books.actor, token).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_slice());
        let header = reader.headers().unwrap().clone();
        let (hash, log) = (
            header.iter().position(|h| h == "tx_hash").unwrap(),
            header.iter().position(|h| h == "log_index").unwrap(),
        );
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 250);
        assert!(records.iter().all(|r| r[hash].len() == 66 && r[log].parse::<u32>().is_ok()), "[{backend:?}]");
        // Each row carries its share of its chunk's fee, in ETH: the shares add up to what the
        // chain charged for the three transactions (gas used × effective price).
        let fee_col = header.iter().position(|h| h == "network_fee").unwrap();
        let asset_col = header.iter().position(|h| h == "network_fee_asset").unwrap();
        let eth_asset = payouts::domain::asset::find("ETH").unwrap();
        let shares = records.iter().fold(0i128, |t, r| {
            assert_eq!(&r[asset_col], "ETH", "[{backend:?}]");
            t + payouts::domain::Amount::parse(eth_asset, &r[fee_col]).unwrap().minor()
        });
        let mut hashes: Vec<String> = records.iter().map(|r| r[hash].to_owned()).collect();
        hashes.dedup();
        let charged: u128 =
            hashes.iter().map(|h| chain.rpc.receipt(h.parse().unwrap()).unwrap().unwrap().fee.unwrap()).sum();
        assert!(charged > 0 && shares == charged as i128, "[{backend:?}] {shares} = {charged}");
        assert_eq!(books.reserved_and_available("USDT_ERC20").0, "0", "[{backend:?}] nothing left reserved");
    }
}

#[test]
fn a_row_the_chain_would_refuse_fails_alone_before_anything_is_sent() {
    let Some(chain) = chain_or_skip() else { return };
    for (round, backend) in backends().into_iter().enumerate() {
        let (dir, books, contract) = deployed(&chain, backend);
        let base = 200_000 * (round as u64 + 1);
        // The token contract accepts no ether: paying it would revert the whole batch. Rows 0-9
        // pay accounts that exist (batched), rows 10-19 new ones (a transaction each: cheaper).
        let mut rows: Vec<(Address, &str)> = (0..20).map(|n| (recipient(base + n), "0.01")).collect();
        rows[7] = (chain.token, "0.01");
        let existing: Vec<Address> = rows[..10].iter().filter(|(a, _)| *a != chain.token).map(|(a, _)| *a).collect();
        make_exist(&chain, contract, &existing);
        let before = books.reserved_and_available("ETH");
        let nonce_before = chain.nonce(wallet());
        let payout = books.pay("ETH", &rows, &format!("batch-refused-{backend:?}"));
        let _server = books.serve_with(batched_config(&chain, dir.path(), contract, 100), dir.path(), WALLET_KEY);

        assert_eq!(books.wait_end(payout), "partially_completed", "[{backend:?}]");
        let rows_now = items(&books, payout);
        assert_eq!(rows_now[7].status.as_str(), "failed", "[{backend:?}]");
        assert!(rows_now[7].tx_hash.is_none(), "[{backend:?}] nothing was sent for it: {:?}", rows_now[7]);
        assert!(rows_now[7].error.as_deref().is_some_and(|e| e.contains("would be refused")), "{:?}", rows_now[7]);
        for (n, (to, _)) in rows.iter().enumerate().filter(|(n, _)| *n != 7) {
            assert_eq!(rows_now[n].status.as_str(), "completed", "[{backend:?}] row {n}");
            let dust = if n < 10 { U256::from(1) } else { U256::ZERO };
            assert_eq!(chain.eth(*to), units(1, 16) + dust, "[{backend:?}] row {n} paid");
        }
        let batch = rows_now[0].tx_hash.clone();
        assert!(rows_now[..10].iter().filter(|r| r.line != 8).all(|r| r.tx_hash == batch && r.log_index.is_some()));
        let mut own: Vec<_> = rows_now[10..].iter().map(|r| r.tx_hash.clone()).collect();
        own.dedup();
        assert_eq!(own.len(), 10, "[{backend:?}] new accounts get a transaction each");
        assert_eq!(chain.nonce(wallet()) - nonce_before, 11, "[{backend:?}] one batch for 9 rows, 10 of their own");
        let (reserved, available) = books.reserved_and_available("ETH");
        assert_eq!(reserved, "0", "[{backend:?}]");
        assert_ne!(available, before.1, "[{backend:?}] the 19 rows are paid");
    }
}

#[test]
fn a_server_killed_between_chunks_pays_everyone_exactly_once_after_a_restart() {
    let Some(chain) = chain_or_skip() else { return };
    for (round, backend) in backends().into_iter().enumerate() {
        let (dir, books, contract) = deployed(&chain, backend);
        let config = batched_config(&chain, dir.path(), contract, 10);
        let base = 300_000 * (round as u64 + 1);
        let rows: Vec<(Address, &str)> = (0..120).map(|n| (recipient(base + n), "1.5")).collect();
        let nonce_before = chain.nonce(wallet());
        let payout = books.pay("USDT_ERC20", &rows, &format!("batch-crash-{backend:?}"));
        let mut server = books.serve_with(config.clone(), dir.path(), WALLET_KEY);
        let started = Instant::now();
        // The approval and a few of the twelve chunks have reached the node.
        while chain.nonce(wallet()) < nonce_before + 4 {
            assert!(started.elapsed() < Duration::from_secs(60), "[{backend:?}] nothing was broadcast");
            std::thread::sleep(Duration::from_millis(2));
        }
        server.0.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
        server.0.wait().unwrap();
        let at_kill = chain.nonce(wallet()) - nonce_before;
        eprintln!("[{backend:?}] killed after {at_kill} of 13 transactions reached the node");

        let _server = books.serve_with(config, dir.path(), WALLET_KEY);
        assert_eq!(books.wait_end(payout), "completed", "[{backend:?}] after {at_kill} at kill");
        for (to, _) in &rows {
            assert_eq!(chain.tokens(*to), U256::from(1_500_000u64), "[{backend:?}] every recipient paid exactly once");
        }
        assert_eq!(chain.nonce(wallet()) - nonce_before, 13, "[{backend:?}] an approval and 12 chunks, none twice");
    }
}

/// A hot wallet with tokens but hardly any ETH: the dashboard says its coin cannot pay the gas of
/// the payouts in progress (apart from the token warning), and the watch announces it once to the
/// organization's `wallet.gas_low` webhook, again only when it is short once more after being
/// funded in between.
#[actix_web::test]
async fn a_wallet_that_cannot_pay_the_gas_is_announced_on_the_dashboard_and_by_webhook() {
    use payouts::db::schema::webhook_deliveries as d;
    use payouts::rails::evm::{EvmRail, config::EvmConfig};
    let Some(chain) = chain_or_skip() else { return };
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = common::TestApp::start(backend).await;
        let key = format!("0x{}", format!("{:02x}", 0x31 + round).repeat(32));
        let poor: PrivateKeySigner = key.parse().unwrap();
        let funder: PrivateKeySigner = WALLET_KEY.parse().unwrap();
        wait_mined(
            &chain.rpc,
            &send(
                &chain.rpc,
                &funder,
                alloy::primitives::TxKind::Call(poor.address()),
                U256::from(10_000_000_000u64),
                Default::default(),
            ),
        );
        let config = EvmConfig::load(&chain.config_file(dir.path()), Some(key.clone())).unwrap();
        let rail = std::sync::Arc::new(EvmRail::connect(config, app.state.pool.clone()).unwrap());
        app.state.rails = std::sync::Arc::new(vec![rail.clone()]);
        let admin = common::actor(&app, "admin@demo.local");
        payouts::db::webhooks::insert_endpoint(
            &mut app.conn(),
            admin.org_id,
            "https://hooks.example/gas",
            "wallet.gas_low",
            "s",
            payouts::clock::now(),
        )
        .unwrap();

        let mut c = app.client().await;
        c.login("accountant@demo.local", "demo").await;
        assert!(!c.get("/").await.body.contains("cannot pay the gas"), "[{backend:?}] nothing in progress yet");
        let res = c.single_payout("USDT_ERC20", "100", &recipient(88).to_checksum(None), "gas test").await;
        let payout = common::payout_id_of(&res);
        assert_eq!(
            payouts::db::payouts::find(&mut app.conn(), payout).unwrap().status.as_str().to_owned(),
            "in_progress",
            "[{backend:?}]"
        );
        let dashboard = c.get("/").await.body;
        assert!(dashboard.contains("cannot pay the gas of the payouts in progress"), "[{backend:?}] {dashboard}");
        assert!(dashboard.contains(&poor.address().to_checksum(None)), "[{backend:?}] names the wallet to fund");

        let rails: Vec<std::sync::Arc<dyn payouts::rails::Rail>> = vec![rail.clone()];
        let at = payouts::clock::now();
        let watch = |at| payouts::service::outbound::gas_watch::watch(&mut app.conn(), &rails, at).unwrap();
        assert_eq!(watch(at), 1, "[{backend:?}] announced");
        assert_eq!(watch(at + chrono::Duration::minutes(1)), 0, "[{backend:?}] once, not every round");
        app.fan_out();
        let sent: Vec<String> =
            d::table.filter(d::event_type.eq("wallet.gas_low")).select(d::payload).load(&mut **app.conn()).unwrap();
        assert_eq!(sent.len(), 1, "[{backend:?}]");
        let body: serde_json::Value = serde_json::from_str(&sent[0]).unwrap();
        assert_eq!(body["data"]["coin"], "ETH", "[{backend:?}] {body}");
        assert_eq!(body["data"]["wallet"], poor.address().to_checksum(None));

        // Funded, the warning goes; short again later, it is announced again.
        wait_mined(
            &chain.rpc,
            &send(
                &chain.rpc,
                &funder,
                alloy::primitives::TxKind::Call(poor.address()),
                units(1, 18),
                Default::default(),
            ),
        );
        assert!(!c.get("/").await.body.contains("cannot pay the gas"), "[{backend:?}] funded");
        assert_eq!(watch(at + chrono::Duration::minutes(2)), 0, "[{backend:?}]");
        let big: Vec<(Address, &str)> = (0..5).map(|n| (recipient(500_000 + n), "0.4")).collect();
        let rows: Vec<payouts::domain::registry::Row> = big
            .iter()
            .enumerate()
            .map(|(n, (to, amount))| {
                let address = to.to_checksum(None);
                let input = payouts::domain::registry::RowInput { address: &address, amount, ..Default::default() };
                payouts::domain::registry::Row::check(
                    payouts::domain::asset::find("ETH").unwrap(),
                    n as u64 + 1,
                    &input,
                )
            })
            .collect();
        let accountant = common::actor(&app, "accountant@demo.local");
        let eth = payouts::domain::asset::find("ETH").unwrap();
        let draft = payouts::service::payouts::price(
            &mut app.conn(),
            &accountant,
            payouts::domain::payout::PayoutKind::Mass,
            eth,
            "2 ETH",
            rows,
        )
        .unwrap();
        payouts::service::payouts::create(&mut app.conn(), &accountant, &draft, "gas-eth").unwrap();
        assert_eq!(
            watch(at + chrono::Duration::minutes(3)),
            1,
            "[{backend:?}] 2 ETH of ETH rows and their gas, 1 ETH held"
        );
    }
}

/// A process that stored its chunks and died before they reached the node: a restarted server
/// finds each row's chunk by the row's key and broadcasts the same signed bytes, so everyone is
/// paid once and no nonce is spent twice. (The chunks are stored by the rail in this test
/// process, then dropped from anvil's pool before any block is mined, as if never broadcast.)
#[test]
fn chunks_stored_but_never_broadcast_go_out_with_the_same_bytes_after_a_restart() {
    use alloy::sol_types::SolCall;
    use payouts::rails::Rail;
    use payouts::rails::evm::{EvmRail, config::EvmConfig};
    alloy::sol! {
        function approve(address spender, uint256 amount) returns (bool);
    }
    let Some(chain) = chain_or_skip() else { return };
    for (round, backend) in backends().into_iter().enumerate() {
        let (dir, books, contract) = deployed(&chain, backend);
        let config = batched_config(&chain, dir.path(), contract, 10);
        let owner: PrivateKeySigner = WALLET_KEY.parse().unwrap();
        let approval = approveCall { spender: contract, amount: U256::MAX }.abi_encode();
        wait_mined(
            &chain.rpc,
            &send(&chain.rpc, &owner, alloy::primitives::TxKind::Call(chain.token), U256::ZERO, approval.into()),
        );
        let base = 600_000 * (round as u64 + 1);
        let rows: Vec<(Address, &str)> = (0..30).map(|n| (recipient(base + n), "2")).collect();
        let payout = books.pay("USDT_ERC20", &rows, &format!("batch-unsent-{backend:?}"));
        let nonce_before = chain.nonce(wallet());

        chain.rpc.request("evm_setIntervalMining", serde_json::json!([0])).unwrap();
        chain.rpc.request("evm_setAutomine", serde_json::json!([false])).unwrap();
        let rail =
            EvmRail::connect(EvmConfig::load(&config, Some(WALLET_KEY.into())).unwrap(), books.state.pool.clone())
                .unwrap();
        let asset = payouts::domain::asset::find("USDT_ERC20").unwrap();
        let transfers: Vec<payouts::rails::Transfer> = books
            .items(payout)
            .into_iter()
            .map(|i| payouts::rails::Transfer {
                key: i.idempotency_key,
                org_id: i.org_id,
                asset,
                address: i.address,
                amount: payouts::domain::Amount::parse(asset, &i.amount).unwrap(),
            })
            .collect();
        let sent = rail.submit(&transfers).unwrap();
        let mut stored: Vec<String> = sent.iter().map(|t| t.tx_hash.clone()).collect();
        stored.dedup();
        assert_eq!(stored.len(), 3, "[{backend:?}] three chunks signed and stored");
        chain.rpc.request("anvil_dropAllTransactions", serde_json::json!([])).unwrap();
        chain.rpc.request("evm_setIntervalMining", serde_json::json!([1])).unwrap();
        assert_eq!(chain.nonce(wallet()), nonce_before, "[{backend:?}] nothing reached the node");

        let _server = books.serve_with(config, dir.path(), WALLET_KEY);
        assert_eq!(books.wait_end(payout), "completed", "[{backend:?}]");
        for (to, _) in &rows {
            assert_eq!(chain.tokens(*to), U256::from(2_000_000u64), "[{backend:?}] paid exactly once");
        }
        assert_eq!(chain.nonce(wallet()) - nonce_before, 3, "[{backend:?}] the three stored chunks, none signed again");
        let mut mined: Vec<String> = books.items(payout).into_iter().filter_map(|i| i.tx_hash).collect();
        mined.dedup();
        assert_eq!(mined, stored, "[{backend:?}] the same signed bytes went out");
    }
}

alloy::sol! {
    function payToken(address token, uint256 total, uint256[] rows);
    function approve(address spender, uint256 amount) returns (bool);
    function balanceOf(address owner) returns (uint256);
    error TokenTransferFailed(uint256 row);
    error TotalMismatch(uint256 total, uint256 paid);
}

/// Deploys `bin` (creation bytecode in hex) with its constructor arguments; its address.
fn deploy_code(chain: &Chain, bin: &str, args: Vec<u8>) -> Address {
    use alloy::primitives::TxKind;
    let signer: PrivateKeySigner = WALLET_KEY.parse().unwrap();
    let nonce = chain.nonce(signer.address());
    let mut code = alloy::hex::decode(bin.trim()).unwrap();
    code.extend(args);
    wait_mined(&chain.rpc, &send(&chain.rpc, &signer, TxKind::Create, U256::ZERO, code.into()));
    signer.address().create(nonce)
}

/// The contract's answer to payToken, as an eth_call: Ok, or the node's revert message.
fn try_pay(
    chain: &Chain,
    contract: Address,
    token: Address,
    total: u64,
    rows: &[(Address, u64)],
) -> Result<(), String> {
    use alloy::sol_types::SolCall;
    let rows = rows.iter().map(|(to, a)| payouts::rails::evm::batch::token_row(*to, U256::from(*a))).collect();
    let input = payTokenCall { token, total: U256::from(total), rows }.abi_encode().into();
    let call = payouts::rails::evm::rpc::Call { from: wallet(), to: contract, value: U256::ZERO, input };
    chain.rpc.eth_call(&call).map(drop).map_err(|e| e.to_string())
}

/// Does the node's revert message name this custom error? Anvil quotes its selector in hex and
/// then the arguments: as text when their bytes are UTF-8, else in hex.
fn names(message: &str, error: impl alloy::sol_types::SolError) -> bool {
    let encoded = error.abi_encode();
    let (selector, args) = encoded.split_at(4);
    let quoted = match std::str::from_utf8(args) {
        Ok(text) => text.to_owned(),
        Err(_) => alloy::hex::encode(args),
    };
    message.contains(&format!("custom error 0x{}: {quoted}", alloy::hex::encode(selector)))
}

#[test]
fn every_token_answer_is_checked_and_the_rows_must_add_up_to_the_total() {
    use alloy::primitives::TxKind;
    use alloy::sol_types::{SolCall, SolValue};
    let Some(chain) = chain_or_skip() else { return };
    let contract = deploy_code(&chain, payouts::rails::evm::batch::BATCH_BYTECODE, Vec::new());
    let blocked = recipient(77);
    let (a, b) = (recipient(78), recipient(79));
    let signer: PrivateKeySigner = WALLET_KEY.parse().unwrap();
    let silent = deploy_code(
        &chain,
        include_str!("evm/SilentToken.bin"),
        (U256::from(1_000_000u64), blocked).abi_encode_params(),
    );
    let falsy = deploy_code(
        &chain,
        include_str!("evm/FalseToken.bin"),
        (U256::from(1_000_000u64), blocked).abi_encode_params(),
    );
    for token in [silent, falsy, chain.token] {
        let input = approveCall { spender: contract, amount: U256::MAX }.abi_encode().into();
        wait_mined(&chain.rpc, &send(&chain.rpc, &signer, TxKind::Call(token), U256::ZERO, input));
    }

    // A token answering nothing (USDT's way) is paid; its refusal is a revert.
    assert_eq!(try_pay(&chain, contract, silent, 30, &[(a, 10), (b, 20)]), Ok(()));
    let err = try_pay(&chain, contract, silent, 30, &[(a, 10), (blocked, 20)]).unwrap_err();
    assert!(err.contains("refused"), "{err}");

    // A token answering false is a failure of that row, named by its index.
    assert_eq!(try_pay(&chain, contract, falsy, 30, &[(a, 10), (b, 20)]), Ok(()));
    let err = try_pay(&chain, contract, falsy, 30, &[(a, 10), (blocked, 20)]).unwrap_err();
    assert!(names(&err, TokenTransferFailed { row: U256::from(1) }), "{err:?}");
    // Its refusal to pull the total (more than the wallet holds) is a failure too.
    let err = try_pay(&chain, contract, falsy, 2_000_000, &[(a, 2_000_000)]).unwrap_err();
    assert!(names(&err, TokenTransferFailed { row: U256::MAX - U256::from(1) }), "{err:?}");

    // Rows that do not add up to the total leave nothing behind: the call reverts.
    let err = try_pay(&chain, contract, chain.token, 31, &[(a, 10), (b, 20)]).unwrap_err();
    assert!(names(&err, TotalMismatch { total: U256::from(31), paid: U256::from(30) }), "{err:?}");

    // Paid for real: each recipient holds its amount, the contract nothing.
    let rows = [(a, 10u64), (b, 20u64)];
    let packed = rows.iter().map(|(to, x)| payouts::rails::evm::batch::token_row(*to, U256::from(*x))).collect();
    let input = payTokenCall { token: silent, total: U256::from(30), rows: packed }.abi_encode().into();
    wait_mined(&chain.rpc, &send(&chain.rpc, &signer, TxKind::Call(contract), U256::ZERO, input));
    let held = |who: Address| {
        let input = balanceOfCall { owner: who }.abi_encode().into();
        let call = payouts::rails::evm::rpc::Call { from: who, to: silent, value: U256::ZERO, input };
        balanceOfCall::abi_decode_returns(&chain.rpc.eth_call(&call).unwrap()).unwrap()
    };
    assert_eq!((held(a), held(b), held(contract)), (U256::from(10), U256::from(20), U256::ZERO));

    // A server whose file names another contract (an older PayoutBatch takes other arguments)
    // refuses to start, saying what to do, before it pays anything.
    let dir = tempfile::tempdir().unwrap();
    let books = Books::open(payouts::db::Backend::Sqlite);
    let config = batched_config(&chain, dir.path(), chain.token, 100);
    let out = Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["serve", "--bind", &format!("127.0.0.1:{}", common::free_port()), "--evm-config"])
        .arg(&config)
        .env("DATABASE_URL", &books.url)
        .env("PAYOUTS_DATA_DIR", dir.path())
        .env("PAYOUTS_EVM_PRIVATE_KEY", WALLET_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("is not this version's PayoutBatch") && said.contains("deploy-batch"), "{said}");
}
