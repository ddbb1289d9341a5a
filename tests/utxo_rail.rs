//! The UTXO rail end to end against a real Litecoin Core node in regtest: the real server pays
//! through the node's wallet, and the node is asked what arrived. Each test runs on SQLite and,
//! when `PAYOUTS_TEST_DATABASE_URL` is set, PostgreSQL.

mod common;
#[path = "utxo/harness.rs"]
mod harness;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::backends;
use harness::*;
use serde_json::json;

const PAY_AT_2: (&str, &str) =
    ("\"max_fee_rate_sat_vb\": 50", "\"max_fee_rate_sat_vb\": 50, \"fallback_fee_rate_sat_vb\": 2");

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(60), "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every row's address received exactly its amount, once, by the output its row names.
fn each_paid_once(node: &Node, books: &Books, payout: i64) {
    for item in books.items(payout) {
        let want = payouts::domain::Amount::parse(payouts::domain::asset::find("LTC").unwrap(), &item.amount).unwrap();
        let got = node.received(&item.address);
        let tx = item.tx_hash.clone().expect("a completed row names its transaction");
        let vout = item.vout.expect("a completed row names its output") as u32;
        assert_eq!(got, vec![(tx, vout, want.minor() as u64)], "line {}: paid once, exactly, by its output", item.line);
    }
}

#[test]
fn a_single_payout_and_a_300_row_payout_are_one_transaction_each_paying_every_output_exactly() {
    let Some(node) = node_or_skip() else { return };
    node.fund("hot", 120);
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let to = payees(&node, 301);
        let single = books.pay(&[(to[0].clone(), "0.5".into())], &format!("single-{backend:?}"));
        // 0.001 LTC and up, a different last digit on every row.
        let rows: Vec<(String, String)> =
            to[1..].iter().enumerate().map(|(i, a)| (a.clone(), coins(100_000 + i as u64 * 1_001))).collect();
        let mass = books.pay(&rows, &format!("mass-{backend:?}"));
        let config = node.config_file(dir.path(), &[PAY_AT_2, ("\"wallet\"", "\"confirmations\": 2, \"wallet\"")]);
        let _server = books.serve(&config, dir.path());
        books.wait_rows(&node, single, &["completed"], true);
        books.wait_rows(&node, mass, &["completed"], true);

        each_paid_once(&node, &books, single);
        each_paid_once(&node, &books, mass);
        let items = books.items(mass);
        let txids: HashSet<_> = items.iter().map(|i| i.tx_hash.clone().unwrap()).collect();
        assert_eq!(txids.len(), 1, "[{backend:?}] 300 rows, one transaction");
        let vouts: HashSet<_> = items.iter().map(|i| i.vout.unwrap()).collect();
        assert_eq!(vouts.len(), 300, "[{backend:?}] an output each");
        assert!(items.iter().all(|i| i.confirmations >= 2), "[{backend:?}] completed at the configured depth");

        // The transaction's fee, shared by its rows, the remainder on the lowest line.
        let txid = txids.into_iter().next().unwrap();
        let fee = node.wallet("hot", "gettransaction", json!([txid]))["fee"].as_f64().unwrap().abs();
        let fee_sat = (fee * 1e8).round() as i128;
        let mut conn = books.state.pool.get().unwrap();
        let values = payouts::service::valuation::values::of_payout(&mut conn, mass).unwrap();
        let shares: Vec<i128> =
            (1..=300).map(|line| values.rows[&line].paid.clone().unwrap().network_fee.unwrap().minor()).collect();
        assert_eq!(shares.iter().sum::<i128>(), fee_sat, "[{backend:?}] the shares add up to the fee paid");
        assert_eq!(shares[1], fee_sat / 300, "[{backend:?}]");
        assert_eq!(shares[0], fee_sat / 300 + fee_sat % 300, "[{backend:?}] the remainder on line 1");

        // The output is in the results file and the API's view of the row.
        let csv = payouts::service::payouts::list::results_csv(&mut conn, &books.actor, mass).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_slice());
        let column = reader.headers().unwrap().iter().position(|h| h == "vout").expect("a vout column");
        let first = reader.records().next().unwrap().unwrap();
        assert_eq!(first[column].parse::<i32>().ok(), items[0].vout, "[{backend:?}]");
        drop(conn);
        assert_eq!(books.reserved_and_available().0, "0", "[{backend:?}] nothing left reserved");

        // What the review showed before confirming is what the network took, give or take the
        // wallet's choice of inputs.
        let rail = books.rail(&config);
        let addresses: Vec<&str> = to[1..].iter().map(String::as_str).collect();
        let shown = rail.network_fee(payouts::domain::asset::find("LTC").unwrap(), &addresses, true).unwrap().unwrap();
        let ratio = shown.amount.minor() as f64 / fee_sat as f64;
        assert!((0.9..1.1).contains(&ratio), "[{backend:?}] review said {}, paid {fee_sat} sat", shown.amount);
    }
}

#[test]
fn two_servers_on_one_database_put_each_row_in_one_transaction() {
    let Some(node) = node_or_skip() else { return };
    node.fund("hot", 120);
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let payouts: Vec<i64> = (0..4)
            .map(|n| {
                let rows: Vec<(String, String)> =
                    payees(&node, 25).into_iter().map(|a| (a, "0.02".to_owned())).collect();
                books.pay(&rows, &format!("two-{n}-{backend:?}"))
            })
            .collect();
        let config = node.config_file(dir.path(), &[PAY_AT_2, ("\"wallet\"", "\"max_outputs\": 5, \"wallet\"")]);
        let earlier: HashSet<String> = node
            .wallet("hot", "listtransactions", json!(["*", 100_000]))
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["txid"].as_str().unwrap().to_owned())
            .collect();
        let (_a, _b) = (books.serve(&config, dir.path()), books.serve(&config, dir.path()));
        for payout in &payouts {
            books.wait_rows(&node, *payout, &["completed"], true);
            each_paid_once(&node, &books, *payout);
        }
        let txids: HashSet<_> = payouts.iter().flat_map(|p| books.items(*p)).map(|i| i.tx_hash.unwrap()).collect();
        // At most five rows a transaction (a lease taken over mid-payout may split a chunk), and
        // the wallet sent no transaction but these.
        assert!(txids.len() >= 20, "[{backend:?}] {} transactions", txids.len());
        let sent: HashSet<String> = node
            .wallet("hot", "listtransactions", json!(["*", 100_000]))
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["category"] == "send")
            .map(|t| t["txid"].as_str().unwrap().to_owned())
            .filter(|t| !earlier.contains(t))
            .collect();
        assert_eq!(sent, txids, "[{backend:?}] no transaction built twice reached the network");
    }
}

#[test]
fn a_server_killed_mid_payout_and_a_node_that_lost_its_mempool_still_pay_every_row_once() {
    let Some(mut node) = node_or_skip() else { return };
    node.fund("hot", 120);
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let rows: Vec<(String, String)> = payees(&node, 120).into_iter().map(|a| (a, "0.01".to_owned())).collect();
        let payout = books.pay(&rows, &format!("crash-{backend:?}"));
        // Ten outputs a transaction: twelve transactions, built one after another.
        let config = node.config_file(dir.path(), &[PAY_AT_2, ("\"wallet\"", "\"max_outputs\": 10, \"wallet\"")]);
        let mut server = books.serve(&config, dir.path());
        until("nothing was broadcast", || node.mempool().len() >= 3);
        server.0.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
        server.0.wait().unwrap();
        let at_kill = node.mempool().len();
        // The node restarts without its mempool and its wallet never rebroadcasts: whatever was
        // sent is now known only to the rail's store.
        node.restart(&["hot", "payees"]);
        assert!(node.mempool().is_empty(), "[{backend:?}] the node lost every unconfirmed transaction");
        eprintln!("[{backend:?}] killed after {at_kill} of 12 transactions reached the node");

        let _server = books.serve(&config, dir.path());
        books.wait_rows(&node, payout, &["completed"], true);
        each_paid_once(&node, &books, payout);
        let txids: HashSet<_> = books.items(payout).into_iter().map(|i| i.tx_hash.unwrap()).collect();
        assert_eq!(txids.len(), 12, "[{backend:?}] twelve transactions, none built twice");
    }
}

#[test]
fn a_stuck_transaction_is_replaced_with_a_higher_fee_and_each_row_paid_once() {
    let Some(node) = node_or_skip() else { return };
    node.fund("hot", 120);
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let rows: Vec<(String, String)> = payees(&node, 3).into_iter().map(|a| (a, "0.2".to_owned())).collect();
        let payout = books.pay(&rows, &format!("stuck-{backend:?}"));
        let at = |rate: &str| {
            let fallback = format!("\"max_fee_rate_sat_vb\": 50, \"fallback_fee_rate_sat_vb\": {rate}");
            let tail = "\"replace_after_blocks\": 2, \"confirmations\": 1, \"wallet\"";
            node.config_file(dir.path(), &[("\"max_fee_rate_sat_vb\": 50", &fallback), ("\"wallet\"", tail)])
        };
        let mut server = books.serve(&at("10"), dir.path());
        books.wait_rows(&node, payout, &["submitted"], false);
        let first = books.items(payout)[0].tx_hash.clone().unwrap();
        for _ in 0..3 {
            node.mine_empty();
        }
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(node.mempool(), vec![first.clone()], "[{backend:?}] paying what the node estimates, it waits");

        // The estimate rises (here: the operator raises the rate paid while there is none).
        drop(server);
        server = books.serve(&at("20"), dir.path());
        until("the stuck transaction was not replaced", || node.mempool().first().is_some_and(|t| *t != first));
        let second = node.mempool()[0].clone();
        books.wait_rows(&node, payout, &["completed"], true);
        drop(server);
        each_paid_once(&node, &books, payout);
        assert!(books.items(payout).iter().all(|i| i.tx_hash.as_deref() == Some(second.as_str())), "[{backend:?}]");
        let paid = node.wallet("hot", "gettransaction", json!([second]));
        let replaced = node.wallet("hot", "gettransaction", json!([first]));
        assert!(replaced["confirmations"].as_i64().unwrap() < 0, "[{backend:?}] the first version never confirms");
        assert!(paid["fee"].as_f64().unwrap().abs() > replaced["fee"].as_f64().unwrap().abs(), "[{backend:?}]");
        let mut conn = books.state.pool.get().unwrap();
        let history = payouts::db::payouts::events(&mut conn, payout).unwrap();
        assert!(
            history.iter().any(|e| e.reason.contains(&format!("{second} now stands in place of {first}"))),
            "[{backend:?}] the history keeps both"
        );
    }
}

#[test]
fn a_manager_cancels_while_unconfirmed_and_the_funds_come_back_once_the_cancellation_confirms() {
    let Some(node) = node_or_skip() else { return };
    node.fund("hot", 120);
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let before = books.reserved_and_available();
        let to = payees(&node, 3);
        let rows: Vec<(String, String)> = to.iter().map(|a| (a.clone(), "0.3".to_owned())).collect();
        let payout = books.pay(&rows, &format!("cancel-{backend:?}"));
        let config = node.config_file(dir.path(), &[PAY_AT_2, ("\"wallet\"", "\"confirmations\": 2, \"wallet\"")]);
        let _server = books.serve(&config, dir.path());
        books.wait_rows(&node, payout, &["submitted"], false);
        let first = books.items(payout)[0].tx_hash.clone().unwrap();

        let item = books.items(payout)[1].id;
        let mut conn = books.state.pool.get().unwrap();
        let shared =
            payouts::service::payouts::review::cancel_transfer(&mut conn, &books.manager, payout, item).unwrap();
        drop(conn);
        assert_eq!(shared, 3, "[{backend:?}] the one transaction pays the three rows, all cancelled with it");
        // What the failure needs to be understood (it was seen once in CI, never here): the
        // mempool, the stored versions and the rows, as they stood when the wait ran out.
        let started = Instant::now();
        while node.mempool().first().is_none_or(|t| *t == first) {
            if started.elapsed() > Duration::from_secs(60) {
                let key = books.items(payout)[0].idempotency_key.clone();
                let mut conn = books.state.pool.get().unwrap();
                let stored = payouts::db::utxo::rows_of(&mut conn, &[key.as_str()]).unwrap();
                let txs = payouts::db::utxo::find_many(&mut conn, &[stored[0].tx_key.as_str()]).unwrap();
                let versions = payouts::db::utxo::replaced_of(&mut conn, &stored[0].tx_key).unwrap();
                let rows: Vec<(String, Option<String>)> =
                    books.items(payout).into_iter().map(|i| (i.status.as_str().to_owned(), i.error)).collect();
                panic!(
                    "[{backend:?}] no cancellation took its place: first {first}, mempool {:?}, stored {:?}, \
                     earlier versions {:?}, rows {rows:?}",
                    node.mempool(),
                    txs.iter().map(|t| (&t.txid, t.cancels, t.cancel_requested_at)).collect::<Vec<_>>(),
                    versions.iter().map(|v| &v.0).collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        node.mine(1);
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            books.items(payout).iter().all(|i| i.status.as_str() == "submitted"),
            "[{backend:?}] the funds wait until the cancellation is as deep as a payment must be"
        );
        books.wait_rows(&node, payout, &["failed"], true);
        for item in books.items(payout) {
            assert!(item.error.as_deref().is_some_and(|e| e.contains("Cancelled by a manager")), "{:?}", item.error);
        }
        for address in &to {
            assert!(node.received(address).is_empty(), "[{backend:?}] nothing was paid");
        }
        assert_eq!(books.reserved_and_available(), before, "[{backend:?}] everything released");
    }
}

#[test]
fn a_transaction_dropped_by_a_reorg_is_sent_again_and_paid_once() {
    let Some(mut node) = node_or_skip() else { return };
    node.fund("hot", 120);
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let to = payees(&node, 2);
        let rows: Vec<(String, String)> = to.iter().map(|a| (a.clone(), "0.4".to_owned())).collect();
        let payout = books.pay(&rows, &format!("reorg-{backend:?}"));
        let config = node.config_file(dir.path(), &[PAY_AT_2, ("\"wallet\"", "\"confirmations\": 3, \"wallet\"")]);
        let server = books.serve(&config, dir.path());
        books.wait_rows(&node, payout, &["submitted"], false);
        node.mine(1);
        until("one confirmation was not recorded", || books.items(payout).iter().all(|i| i.confirmations == 1));

        // The block is undone, and the node restarted without its mempool: the transaction is
        // in no block and no pool, known only to the rail's store.
        drop(server);
        let tip = node.cli("getbestblockhash", json!([])).unwrap();
        node.cli("invalidateblock", json!([tip])).unwrap();
        node.restart(&["hot", "payees"]);
        assert!(node.mempool().is_empty());
        node.mine_empty();
        assert!(books.items(payout).iter().all(|i| i.status.as_str() == "submitted"), "[{backend:?}]");

        let _server = books.serve(&config, dir.path());
        until("the stored transaction was not sent again", || node.mempool().len() == 1);
        books.wait_rows(&node, payout, &["completed"], true);
        each_paid_once(&node, &books, payout);
    }
}

#[test]
fn a_wallet_too_poor_sends_nothing_and_the_rows_pay_once_it_is_funded() {
    let Some(node) = node_or_skip() else { return };
    node.fund("hot", 120);
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let poor = format!("poor{round}");
        node.cli("createwallet", json!([poor])).unwrap();
        let rows: Vec<(String, String)> = payees(&node, 2).into_iter().map(|a| (a, "1.5".to_owned())).collect();
        let payout = books.pay(&rows, &format!("poor-{backend:?}"));
        let config = node.config_file(dir.path(), &[PAY_AT_2, ("\"hot\"", &format!("\"{poor}\""))]);
        let _server = books.serve(&config, dir.path());
        std::thread::sleep(Duration::from_secs(3));
        assert!(node.mempool().is_empty(), "[{backend:?}] nothing sent");
        let statuses: HashMap<String, usize> = books.items(payout).into_iter().fold(HashMap::new(), |mut m, i| {
            *m.entry(i.status.as_str().to_owned()).or_default() += 1;
            m
        });
        assert!(!statuses.contains_key("failed") && !statuses.contains_key("submitted"), "[{backend:?}] {statuses:?}");

        // What the dashboard shows: the node wallet's balance beside what the rows need.
        let rail = books.rail(&config);
        let ltc = payouts::domain::asset::find("LTC").unwrap();
        let open =
            payouts::rails::OpenRows { asset: ltc, rows: 2, value: payouts::domain::Amount::parse(ltc, "3").unwrap() };
        let outlook = rail.gas_outlook(&[open]).unwrap().unwrap();
        assert_eq!(outlook.held.minor(), 0, "[{backend:?}]");
        assert!(
            outlook.short_by().is_some_and(|s| s.minor() > 300_000_000),
            "[{backend:?}] short by 3 LTC and the fee"
        );

        // Funded at the address the dashboard names.
        let mine = node.wallet(&poor, "getaddressinfo", json!([outlook.address]));
        assert_eq!(mine["ismine"], true, "[{backend:?}] {} is the node wallet's", outlook.address);
        node.send("hot", &outlook.address, "5");
        node.mine(1);
        books.wait_rows(&node, payout, &["completed"], true);
        each_paid_once(&node, &books, payout);
    }
}

/// The pages with a Litecoin node configured: the review shows the network fee in LTC apart from
/// the service fee, the details page names the Litecoin network, and the dashboard shows the node
/// wallet's balance beside the ledger — with the address to fund when it cannot pay.
#[actix_web::test]
async fn pages_show_the_node_wallet_and_the_network_fee() {
    let Some(node) = node_or_skip() else { return };
    node.fund("hot", 101);
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = common::TestApp::start(backend).await;
        let poor = format!("empty{round}");
        node.cli("createwallet", json!([poor])).unwrap();
        let rich = node.config_file(dir.path(), &[PAY_AT_2]);
        let empty = node.config_file(dir.path(), &[PAY_AT_2, ("\"hot\"", &format!("\"{poor}\""))]);
        {
            let mut admin = app.client().await;
            admin.login("admin@demo.local", "demo").await;
            admin.get("/settings/balances").await;
            admin.post_form("/settings/balances", &[("asset", "LTC"), ("amount", "100"), ("note", "seed")]).await;
        }
        let to = payees(&node, 1).remove(0);
        for (config, funded) in [(&rich, true), (&empty, false)] {
            let setup = payouts::rails::family::Setup { pool: app.state.pool.clone(), clock: Default::default() };
            let chain = payouts::rails::family::ChainConfig { family: "utxo".into(), file: config.clone() };
            let connected = payouts::rails::family::connect_all(&[chain], &setup).unwrap().remove(0);
            app.state.rails = std::sync::Arc::new(vec![connected.rail.clone()]);
            let mut c = app.client().await;
            c.login("accountant@demo.local", "demo").await;
            c.get("/payouts/new/single").await;
            let form = [("asset", "LTC"), ("amount", "2"), ("address", to.as_str()), ("description", "x")];
            let review = c.post_form("/payouts/new/single", &form).await;
            assert!(review.body.contains("Network fee") && review.body.contains(" LTC</span>"), "[{backend:?}]");
            let res = c.single_payout("LTC", "2", &to, &format!("pages {funded}")).await;
            assert_eq!(res.status, actix_web::http::StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
            let details = c.get(res.location().unwrap()).await.body;
            assert!(details.contains("(Litecoin network)") && !details.contains("simulated network"), "[{backend:?}]");

            let dashboard = c.get("/").await.body;
            assert!(dashboard.contains("Hot wallet on chain"), "[{backend:?}]");
            let funding = connected.rail.wallet(payouts::domain::asset::find("LTC").unwrap()).unwrap().address;
            let told = dashboard.contains(&format!("<span class=\"mono\">{funding}</span>"));
            assert_eq!(told, !funded, "[{backend:?}] the address to fund named only when the wallet is short");
        }
    }
}

/// The wallet's coins a stored transaction spends go elsewhere (another tool spending from the
/// node wallet while the server was down): once that spend is as deep as a payment must be, the
/// transaction can never confirm, its rows fail with the reason and their funds come back.
#[test]
fn coins_spent_elsewhere_fail_the_rows_and_release_their_funds() {
    let Some(mut node) = node_or_skip() else { return };
    for backend in backends() {
        node.fund("hot", 101);
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let before = books.reserved_and_available();
        let to = payees(&node, 2);
        let rows: Vec<(String, String)> = to.iter().map(|a| (a.clone(), "0.5".to_owned())).collect();
        let payout = books.pay(&rows, &format!("elsewhere-{backend:?}"));
        let config = node.config_file(dir.path(), &[PAY_AT_2, ("\"wallet\"", "\"confirmations\": 2, \"wallet\"")]);
        let server = books.serve(&config, dir.path());
        books.wait_rows(&node, payout, &["submitted"], false);
        let stored = books.items(payout)[0].tx_hash.clone().unwrap();
        drop(server);

        // The node restarts without its mempool; someone abandons the transaction and sends
        // everything the wallet holds elsewhere, and that is mined.
        node.restart(&["hot", "payees"]);
        node.wallet("hot", "abandontransaction", json!([stored]));
        let all = node.wallet("hot", "getbalance", json!([])).as_f64().unwrap();
        let elsewhere = payees(&node, 1).remove(0);
        let txid = node.wallet("hot", "sendtoaddress", json!([elsewhere, format!("{all:.8}"), "", "", true]));
        let hex = node.wallet("hot", "gettransaction", json!([txid]))["hex"].clone();
        node.cli("sendrawtransaction", json!([hex])).unwrap();
        node.mine(2);

        let _server = books.serve(&config, dir.path());
        books.wait_rows(&node, payout, &["failed"], false);
        for item in books.items(payout) {
            assert!(
                item.error.as_deref().is_some_and(|e| e.contains("went to another transaction")),
                "{:?}",
                item.error
            );
        }
        for address in &to {
            assert!(node.received(address).is_empty(), "[{backend:?}] nothing was paid");
        }
        assert_eq!(books.reserved_and_available(), before, "[{backend:?}] everything released");
    }
}
