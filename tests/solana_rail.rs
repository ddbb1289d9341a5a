//! The Solana rail end to end against a real local Solana network (surfpool's, `tools/surfnet`):
//! the real server pays SOL and an SPL token through it, and the network is asked what arrived.
//! Each test runs on SQLite and, when `PAYOUTS_TEST_DATABASE_URL` is set, PostgreSQL.

mod common;
#[path = "solana/harness.rs"]
mod harness;
#[path = "solana/network.rs"]
mod network;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::backends;
use harness::*;
use network::*;
use payouts::domain::asset::find;
use payouts::rails::solana::config::Commitment;
use solana_pubkey::Pubkey;

fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// "1.234567"-style text of `units` millionths, as a person would type a USDC amount.
fn usdc(units: u64) -> String {
    format!("{}.{:06}", units / 1_000_000, units % 1_000_000)
}

/// Every signature the rows name is finalized on the network, without error.
fn finalized(net: &Network, books: &Books, payout: i64) -> Vec<String> {
    let signatures: Vec<String> =
        books.items(payout).iter().map(|i| i.tx_hash.clone().expect("a paid row names its transaction")).collect();
    let refs: Vec<&str> = signatures.iter().map(String::as_str).collect();
    for status in net.rpc.statuses(&refs).unwrap() {
        let status = status.expect("the network knows the transaction");
        assert_eq!((status.confirmation.as_str(), status.error), ("finalized", None));
    }
    signatures
}

#[test]
fn a_single_sol_payout_a_single_usdc_payout_to_a_new_account_and_45_mixed_rows_are_each_paid_exactly_once() {
    let Some(net) = network_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mint = net.mint(42, 6, 1_000_000_000_000);
    let keypair = net.keypair_file(dir.path());
    let config = config_file(dir.path(), &net.rpc_url, &keypair, &mint, "");
    let rent = net.rpc.rent(165).unwrap();
    for (round, backend) in backends().into_iter().enumerate() {
        let seed = 10 + round as u8 * 10;
        let books = Books::open(backend);
        let sol_to = recipients(1, seed)[0];
        let usdc_to = recipients(1, seed + 1)[0];
        let owners = recipients(45, seed + 2);
        // Fifteen recipients hold a token account of the mint already; thirty do not.
        net.open_accounts(&mint, &owners[..15]);

        // The review's estimate, before anything is paid: the transactions, their fees and the
        // rent of the thirty accounts to be made.
        let rail = books.rail(&config);
        let addresses: Vec<String> = owners.iter().map(Pubkey::to_string).collect();
        let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let estimate = rail.network_fee(find("USDC_SOL").unwrap(), &refs, true).unwrap().unwrap();
        assert_eq!(estimate.new_accounts, 30, "[{backend:?}]");
        assert_eq!(estimate.rent.map(|r| r.minor()), Some(i128::from(rent) * 30), "[{backend:?}]");
        assert!(estimate.transactions >= 4, "[{backend:?}] {} transactions", estimate.transactions);
        assert_eq!(
            estimate.amount.minor(),
            i128::from(rent) * 30 + 5_000 * estimate.transactions as i128,
            "[{backend:?}] rent and 5,000 lamports a transaction"
        );
        assert!(estimate.notes.is_empty(), "[{backend:?}] {:?}", estimate.notes);

        let single_sol = books.pay("SOL", &[(sol_to, "0.5".into())], &format!("sol-{backend:?}"));
        let single_usdc = books.pay("USDC_SOL", &[(usdc_to, "12.345678".into())], &format!("usdc-{backend:?}"));
        let rows: Vec<(Pubkey, String)> =
            owners.iter().enumerate().map(|(i, o)| (*o, usdc(1_000_000 + i as u64 * 1_001))).collect();
        let mass = books.pay("USDC_SOL", &rows, &format!("mass-{backend:?}"));
        let server = books.serve(&config, dir.path());
        for payout in [single_sol, single_usdc, mass] {
            books.wait_rows(payout, &["completed"]);
        }
        drop(server);

        assert_eq!(net.rpc.balance(&sol_to.to_string()).unwrap(), 500_000_000, "[{backend:?}] 0.5 SOL, once");
        assert_eq!(net.tokens(&mint, &usdc_to), Some(12_345_678), "[{backend:?}] its account made and paid once");
        for (i, owner) in owners.iter().enumerate() {
            assert_eq!(net.tokens(&mint, owner), Some(1_000_000 + i as u64 * 1_001), "[{backend:?}] row {}", i + 1);
        }
        finalized(&net, &books, single_sol);
        finalized(&net, &books, single_usdc);
        let signatures = finalized(&net, &books, mass);
        let distinct: HashSet<&String> = signatures.iter().collect();
        assert!(distinct.len() >= 4, "[{backend:?}] {} transactions for 45 rows", distinct.len());
        let places: HashSet<(String, i32)> = books
            .items(mass)
            .into_iter()
            .map(|i| (i.tx_hash.unwrap(), i.instruction_index.expect("a paid row names its instruction")))
            .collect();
        assert_eq!(places.len(), 45, "[{backend:?}] each row its own instruction");

        // Each row's network fee: its share of its transaction's fee, plus the rent of the
        // account it made; together what the wallet paid.
        let mut conn = books.state.pool.get().unwrap();
        let values = payouts::service::valuation::values::of_payout(&mut conn, mass).unwrap();
        let shares: i128 =
            (1..=45).map(|line| values.rows[&line].paid.clone().unwrap().network_fee.unwrap().minor()).sum();
        let fees: u64 = distinct.iter().map(|s| net.rpc.landed(s, Commitment::Finalized).unwrap().unwrap().fee).sum();
        assert_eq!(shares, i128::from(fees) + i128::from(rent) * 30, "[{backend:?}]");
        let single = payouts::service::valuation::values::of_payout(&mut conn, single_usdc).unwrap();
        let fee = single.rows[&1].paid.clone().unwrap().network_fee.unwrap();
        assert_eq!((fee.asset().code, fee.minor()), ("SOL", i128::from(5_000 + rent)), "[{backend:?}]");
        drop(conn);
        assert_eq!((books.reserved("SOL"), books.reserved("USDC_SOL")), ("0".into(), "0".into()), "[{backend:?}]");
    }
}

#[test]
fn rows_the_network_or_the_organization_refuses_fail_alone_with_the_reason_and_the_others_are_paid() {
    let Some(net) = network_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mint = net.mint(43, 6, 1_000_000_000_000);
    let keypair = net.keypair_file(dir.path());
    let config = config_file(dir.path(), &net.rpc_url, &keypair, &mint, "");
    for (round, backend) in backends().into_iter().enumerate() {
        let books = Books::open(backend);
        let owners = recipients(7, 60 + round as u8);
        net.open_accounts(&mint, &owners[..6]);
        // The issuer froze the third recipient's account; the seventh has none, and the
        // organization does not create them.
        net.freeze(&mint, &owners[2]);
        payouts::db::orgs::set_create_token_accounts(&mut books.state.pool.get().unwrap(), books.actor.org_id, false)
            .unwrap();
        let addresses: Vec<String> = owners.iter().map(Pubkey::to_string).collect();
        let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let rail = books.rail(&config);
        let estimate = rail.network_fee(find("USDC_SOL").unwrap(), &refs, false).unwrap().unwrap();
        assert_eq!(estimate.notes.len(), 2, "[{backend:?}] {:?}", estimate.notes);
        assert!(estimate.notes[0].contains("frozen"), "[{backend:?}] the review names the frozen account");
        assert!(estimate.notes[1].contains("your organization"), "[{backend:?}] and the account not made");
        assert_eq!((estimate.new_accounts, estimate.rent), (0, None), "[{backend:?}]");
        let allowed = rail.network_fee(find("USDC_SOL").unwrap(), &refs, true).unwrap().unwrap();
        assert_eq!((allowed.notes.len(), allowed.new_accounts), (1, 1), "[{backend:?}]");

        let rows: Vec<(Pubkey, String)> = owners.iter().map(|o| (*o, "5".to_owned())).collect();
        let payout = books.pay("USDC_SOL", &rows, &format!("frozen-{backend:?}"));
        let server = books.serve(&config, dir.path());
        books.wait_rows(payout, &["completed", "failed"]);
        drop(server);
        for (i, item) in books.items(payout).iter().enumerate() {
            if i == 2 || i == 6 {
                assert_eq!(item.status.as_str(), "failed", "[{backend:?}]");
                let why = item.error.clone().unwrap_or_default();
                let expected =
                    if i == 2 { "frozen by the token's issuer" } else { "your organization does not create" };
                assert!(why.contains(expected), "[{backend:?}] {why}");
                assert_eq!(item.tx_hash, None, "[{backend:?}] nothing was sent for it");
                assert_eq!(net.tokens(&mint, &owners[i]), if i == 2 { Some(0) } else { None }, "[{backend:?}]");
            } else {
                assert_eq!(item.status.as_str(), "completed", "[{backend:?}] line {}", i + 1);
                assert_eq!(net.tokens(&mint, &owners[i]), Some(5_000_000), "[{backend:?}] line {}", i + 1);
            }
        }
        assert_eq!(books.status(payout), "partially_completed", "[{backend:?}]");
        assert_eq!(books.reserved("USDC_SOL"), "0", "[{backend:?}] the failed row's funds released");
    }
}

#[test]
fn a_server_killed_between_storing_and_sending_sends_the_same_transactions_and_pays_once() {
    // Slots as long as a real cluster's, so that the stored transactions are still valid after
    // the restart: this test is about the same bytes going again, not about expiry.
    let Some(net) = network_with_slots_or_skip(400) else { return };
    let dir = tempfile::tempdir().unwrap();
    let mint = net.mint(44, 6, 1_000_000_000);
    let keypair = net.keypair_file(dir.path());
    for (round, backend) in backends().into_iter().enumerate() {
        let relay = Relay::start(&net.rpc_url);
        let config = config_file(dir.path(), &relay.url, &keypair, &mint, "");
        let books = Books::open(backend);
        let to = recipients(25, 80 + round as u8);
        let rows: Vec<(Pubkey, String)> =
            to.iter().enumerate().map(|(i, o)| (*o, format!("0.0{:02}", 10 + i))).collect();
        let payout = books.pay("SOL", &rows, &format!("kill-{backend:?}"));
        relay.swallow.store(true, Ordering::SeqCst);
        let mut server = books.serve(&config, dir.path());
        until("both chunks stored and their sends lost", Duration::from_secs(60), || {
            books.stored().len() == 2 && relay.swallowed.load(Ordering::SeqCst) >= 2
        });
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        let stored = books.stored();
        assert!(to.iter().all(|o| net.rpc.balance(&o.to_string()).unwrap() == 0), "[{backend:?}] nothing arrived");

        relay.swallow.store(false, Ordering::SeqCst);
        let server = books.serve(&config, dir.path());
        books.wait_rows(payout, &["completed"]);
        drop(server);
        assert_eq!(books.stored(), stored, "[{backend:?}] the same two transactions, never signed anew");
        let sent: HashSet<String> = books.items(payout).into_iter().map(|i| i.tx_hash.unwrap()).collect();
        let kept: HashSet<String> = stored.into_iter().map(|(s, _, _)| s).collect();
        assert_eq!(sent, kept, "[{backend:?}]");
        for (i, owner) in to.iter().enumerate() {
            let want = 10_000_000 + i as u64 * 1_000_000;
            assert_eq!(net.rpc.balance(&owner.to_string()).unwrap(), want, "[{backend:?}] row {} paid once", i + 1);
        }
    }
}

#[test]
fn a_transaction_whose_blockhash_expires_unsent_is_signed_anew_once_and_pays_once() {
    let Some(net) = network_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mint = net.mint(45, 6, 1_000_000_000);
    let keypair = net.keypair_file(dir.path());
    for (round, backend) in backends().into_iter().enumerate() {
        let relay = Relay::start(&net.rpc_url);
        let config = config_file(dir.path(), &relay.url, &keypair, &mint, "");
        let books = Books::open(backend);
        let to = recipients(3, 90 + round as u8);
        let rows: Vec<(Pubkey, String)> = to.iter().map(|o| (*o, "0.25".to_owned())).collect();
        let payout = books.pay("SOL", &rows, &format!("expiry-{backend:?}"));
        relay.swallow.store(true, Ordering::SeqCst);
        // Two servers on one database: only one may sign the chunk anew.
        let (_a, _b) = (books.serve(&config, dir.path()), books.serve(&config, dir.path()));
        until("the transaction stored", Duration::from_secs(60), || books.stored().len() == 1);
        let (first, _, last_valid) = books.stored().remove(0);
        until("its blockhash expired on the finalized chain", Duration::from_secs(120), || {
            net.rpc.block_height(Commitment::Finalized).unwrap() > last_valid as u64
        });
        relay.swallow.store(false, Ordering::SeqCst);
        books.wait_rows(payout, &["completed"]);

        let stored = books.stored();
        assert_eq!(stored.len(), 1, "[{backend:?}]");
        let (second, version, _) = stored[0].clone();
        assert_eq!(version, 1, "[{backend:?}] signed anew exactly once");
        assert_ne!(second, first, "[{backend:?}]");
        assert_eq!(net.rpc.statuses(&[first.as_str()]).unwrap(), vec![None], "[{backend:?}] the first never landed");
        assert!(books.items(payout).iter().all(|i| i.tx_hash.as_deref() == Some(second.as_str())), "[{backend:?}]");
        for owner in &to {
            assert_eq!(net.rpc.balance(&owner.to_string()).unwrap(), 250_000_000, "[{backend:?}] paid once");
        }
    }
}
