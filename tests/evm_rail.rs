//! The EVM rail against a real local chain: anvil (from the npm package
//! `@foundry-rs/anvil-linux-amd64`, installed by `.ci/run`), with a small ERC-20 token
//! (tests/evm/TestToken.sol, its compiled bytecode beside it) deployed at the start. The real
//! server binary pays; the chain itself is asked what arrived.
//!
//! Without anvil the tests are skipped with a notice, except with `CI=true`. `PAYOUTS_ANVIL`
//! points at another anvil binary.

mod common;
#[path = "evm/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use common::backends;
use harness::*;
use payouts::domain::asset::find;
use payouts::service::payouts as payout_service;

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
        // What the chain charged for each transfer is recorded with the row, in ETH.
        for id in [eth, token] {
            let item = &payouts::db::payouts::items(&mut conn, id).unwrap()[0];
            let receipt = chain.rpc.receipt(item.tx_hash.as_deref().unwrap().parse().unwrap()).unwrap().unwrap();
            let values = payouts::service::valuation::values::of_payout(&mut conn, id).unwrap();
            let paid = values.rows[&1].paid.clone().expect("recorded at payment");
            let fee = paid.network_fee.expect("the network fee is known");
            assert_eq!((fee.asset().code, fee.minor()), ("ETH", receipt.fee.unwrap() as i128), "[{backend:?}]");
            assert!(paid.value.is_none(), "[{backend:?}] no rate was recorded, so no value is guessed");
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
            app.state.rails = std::sync::Arc::new(vec![std::sync::Arc::new(rail)]);
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
            // The details page names the rail that pays the asset, not the simulated network.
            let details = c.get(res.location().unwrap()).await.body;
            assert!(details.contains("(EVM network)") && !details.contains("simulated network"), "[{backend:?}]");

            let key = payouts::service::access::api_keys::create_from_cli(
                &mut app.conn(),
                "accountant@demo.local",
                "read",
                "t",
            )
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
                find("USDT_ERC20").map(|a| payouts::domain::Amount::from_minor(a, held.to::<u128>() as i128).money());
            assert!(dashboard.contains(&format!("<td class=\"amount\">{}", shown.unwrap())), "[{backend:?}]");
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
            ..Default::default()
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
        created_at: payouts::clock::now(),
        cancel_requested_at: None,
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

#[test]
fn a_row_listed_after_confirmation_never_reaches_the_chain() {
    let Some(chain) = chain_or_skip() else { return };
    let wallet = WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address();
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let base = 70_000 + 10 * round as u64;
        let (listed, clean) = (recipient(base + 1), recipient(base + 2));
        let held = books.pay("USDT_ERC20", &[(listed, "12")], &format!("held-{backend:?}"));
        let paid = books.pay("USDT_ERC20", &[(clean, "13")], &format!("paid-{backend:?}"));
        // Listed after both were confirmed, in lower case as a list may carry it.
        let list = format!("{}\n", listed.to_string().to_lowercase());
        let at = chrono::Utc::now().naive_utc();
        let importer = payouts::service::compliance::Importer::System("tests");
        let mut conn = books.state.pool.get().unwrap();
        payouts::service::compliance::import(&mut conn, importer, "late list", "tests", list.as_bytes(), at).unwrap();
        drop(conn);
        let nonce_before = chain.nonce(wallet);
        let _server = books.serve(&chain, dir.path(), WALLET_KEY);

        assert_eq!(books.wait_end(paid), "completed", "[{backend:?}]");
        let started = Instant::now();
        while books.items(held)[0].compliance_hold.is_none() {
            assert!(started.elapsed() < Duration::from_secs(60), "[{backend:?}] {:?}", books.items(held));
            std::thread::sleep(Duration::from_millis(100));
        }
        let item = &books.items(held)[0];
        assert_eq!((item.status.as_str(), item.tx_hash.as_deref()), ("queued", None), "[{backend:?}] held, unsent");
        assert!(item.compliance_hold.as_deref().unwrap().contains("late list"), "[{backend:?}]");
        assert_eq!(chain.tokens(listed), U256::ZERO, "[{backend:?}] nothing reached the listed address");
        assert_eq!(chain.tokens(clean), units(13, 6), "[{backend:?}]");
        assert_eq!(chain.nonce(wallet) - nonce_before, 1, "[{backend:?}] one transaction: the clean row's");
        assert_eq!(books.status(held), "in_progress", "[{backend:?}] waiting for a person");
    }
}
