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
        app.state.chains = std::sync::Arc::new(vec![rail.clone()]);
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

        let chains: Vec<std::sync::Arc<dyn payouts::rails::Chain>> = vec![rail.clone()];
        let at = payouts::clock::now();
        let watch = |at| payouts::service::outbound::gas_watch::watch(&mut app.conn(), &chains, at).unwrap();
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
