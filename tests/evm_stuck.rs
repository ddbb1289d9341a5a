//! Pending transactions on anvil (mining by hand), on every backend: one stuck under a raised base
//! fee is replaced (same nonce, higher fee) and the replacement pays the recipient once; one a
//! manager cancels is replaced by an empty transaction and its row fails with its funds released.

mod common;
#[path = "evm/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use common::backends;
use diesel::prelude::*;
use harness::*;
use payouts::db::schema::{evm_replaced, evm_transactions};
use serde_json::json;

const GWEI: u64 = 1_000_000_000;

#[test]
fn a_transaction_stuck_under_a_raised_base_fee_is_replaced_and_pays_once() {
    let Some(chain) = chain_or_skip() else { return };
    let wallet: Address = WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address();
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let to = recipient(400_000 + round as u64);
        let path = chain.config_file(dir.path());
        let mut file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        file["replace_after_seconds"] = 2.into();
        std::fs::write(&path, file.to_string()).unwrap();

        chain.rpc.request("evm_setIntervalMining", json!([0])).unwrap();
        chain.rpc.request("evm_setAutomine", json!([false])).unwrap();
        // The transaction is priced from a latest block whose base fee is 1 gwei.
        chain.rpc.request("anvil_setNextBlockBaseFeePerGas", json!([format!("{GWEI:#x}")])).unwrap();
        chain.rpc.request("evm_mine", json!([])).unwrap();
        let mined_before = latest_nonce(&chain, wallet);
        let payout = books.pay("ETH", &[(to, "0.5")], &format!("stuck-{backend:?}"));
        let _server = books.serve_with(path, dir.path(), WALLET_KEY);
        let started = Instant::now();
        while chain.nonce(wallet) == mined_before {
            assert!(started.elapsed() < Duration::from_secs(30), "[{backend:?}] nothing was sent");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Every block from now on has a base fee far above what the transaction may pay.
        while !["completed", "failed"].contains(&books.status(payout).as_str()) {
            assert!(started.elapsed() < Duration::from_secs(90), "[{backend:?}] still {}", books.status(payout));
            let base = format!("{:#x}", 200 * GWEI);
            chain.rpc.request("anvil_setNextBlockBaseFeePerGas", json!([base])).unwrap();
            chain.rpc.request("evm_mine", json!([])).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        }
        chain.rpc.request("evm_setIntervalMining", json!([1])).unwrap();

        assert_eq!(books.status(payout), "completed", "[{backend:?}]");
        assert_eq!(chain.eth(to), units(5, 17), "[{backend:?}] paid once");
        assert_eq!(latest_nonce(&chain, wallet) - mined_before, 1, "[{backend:?}] one nonce, one transaction mined");
        let item = payouts::db::payouts::items(&mut books.state.pool.get().unwrap(), payout).unwrap().remove(0);
        let mut conn = books.state.pool.get().unwrap();
        let current: String = evm_transactions::table
            .find(&item.idempotency_key)
            .select(evm_transactions::tx_hash)
            .first(&mut **conn)
            .unwrap();
        let replaced: Vec<String> = evm_replaced::table
            .filter(evm_replaced::idempotency_key.eq(&item.idempotency_key))
            .select(evm_replaced::tx_hash)
            .load(&mut **conn)
            .unwrap();
        assert!(!replaced.is_empty(), "[{backend:?}] the first version was replaced and kept");
        assert_eq!(item.tx_hash.as_deref(), Some(current.as_str()), "[{backend:?}] the row shows the mined version");
        let receipt = chain.rpc.receipt(current.parse().unwrap()).unwrap();
        assert!(receipt.is_some_and(|r| r.success), "[{backend:?}] the replacement is the one mined");
        for old in &replaced {
            assert!(chain.rpc.receipt(old.parse().unwrap()).unwrap().is_none(), "[{backend:?}] {old} never mined");
        }
        let history = payouts::db::payouts::events(&mut conn, payout).unwrap();
        assert!(
            history.iter().any(|e| e.reason.contains(&format!("{current} now stands in place of {}", replaced[0]))),
            "[{backend:?}] the history keeps both hashes"
        );
    }
}

/// The wallet's nonce counting mined transactions only.
fn latest_nonce(chain: &Chain, who: Address) -> u64 {
    let answer = chain.rpc.request("eth_getTransactionCount", json!([who, "latest"])).unwrap();
    u64::from_str_radix(answer.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// A manager cancels a row whose transaction is still pending: the rail puts an empty
/// transaction to the wallet itself in its place (same nonce), that one is mined, the row fails
/// as cancelled with its funds released, and the recipient gets nothing.
#[test]
fn a_pending_transfer_cancelled_by_a_manager_is_replaced_by_an_empty_one() {
    let Some(chain) = chain_or_skip() else { return };
    let wallet: Address = WALLET_KEY.parse::<PrivateKeySigner>().unwrap().address();
    for (round, backend) in backends().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::open(backend);
        let to = recipient(410_000 + round as u64);
        let before = books.reserved_and_available("ETH");
        chain.rpc.request("evm_setIntervalMining", json!([0])).unwrap();
        chain.rpc.request("evm_setAutomine", json!([false])).unwrap();
        let mined_before = latest_nonce(&chain, wallet);
        let payout = books.pay("ETH", &[(to, "0.25")], &format!("cancel-{backend:?}"));
        let _server = books.serve(&chain, dir.path(), WALLET_KEY);
        let started = Instant::now();
        while books.items(payout)[0].status.as_str() != "submitted" {
            assert!(started.elapsed() < Duration::from_secs(30), "[{backend:?}] nothing was sent");
            std::thread::sleep(Duration::from_millis(50));
        }
        let item = books.items(payout).remove(0);
        let manager = {
            let mut conn = books.state.pool.get().unwrap();
            let user = payouts::db::users::find_by_email(&mut conn, "manager@demo.local").unwrap().unwrap();
            payouts::service::access::Actor::of_user(user, payouts::domain::account::Role::Manager)
        };
        let viewer = {
            let mut conn = books.state.pool.get().unwrap();
            let user = payouts::db::users::find_by_email(&mut conn, "viewer@demo.local").unwrap().unwrap();
            payouts::service::access::Actor::of_user(user, payouts::domain::account::Role::Viewer)
        };
        let mut conn = books.state.pool.get().unwrap();
        assert!(
            payouts::service::payouts::review::cancel_transfer(&mut conn, &viewer, payout, item.id).is_err(),
            "viewers cannot"
        );
        assert_eq!(
            payouts::service::payouts::review::cancel_transfer(&mut conn, &manager, payout, item.id).unwrap(),
            1
        );
        drop(conn);
        // The rail swaps in the cancellation at its next look-up; only then is a block mined.
        while replaced(&books, &item.idempotency_key).is_empty() {
            assert!(started.elapsed() < Duration::from_secs(30), "[{backend:?}] the cancellation was never signed");
            std::thread::sleep(Duration::from_millis(50));
        }
        while !["completed", "failed"].contains(&books.status(payout).as_str()) {
            assert!(started.elapsed() < Duration::from_secs(60), "[{backend:?}] still {}", books.status(payout));
            chain.rpc.request("evm_mine", json!([])).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        }
        chain.rpc.request("evm_setIntervalMining", json!([1])).unwrap();
        assert_eq!(books.status(payout), "failed", "[{backend:?}]");
        let row = books.items(payout).remove(0);
        assert!(row.error.as_deref().is_some_and(|e| e.contains("Cancelled by a manager")), "[{backend:?}] {row:?}");
        assert_eq!(chain.eth(to), U256::ZERO, "[{backend:?}] nothing arrived");
        assert_eq!(latest_nonce(&chain, wallet) - mined_before, 1, "[{backend:?}] the nonce was used once");
        assert_eq!(books.reserved_and_available("ETH"), before, "[{backend:?}] the reservation was released");
    }
}

fn replaced(books: &Books, key: &str) -> Vec<String> {
    let mut conn = books.state.pool.get().unwrap();
    evm_replaced::table
        .filter(evm_replaced::idempotency_key.eq(key))
        .select(evm_replaced::tx_hash)
        .load(&mut **conn)
        .unwrap()
}
