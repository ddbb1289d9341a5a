//! What a Solana mass payout costs and how long it takes, against surfpool's local network with
//! 400 ms slots (a real cluster's pace): the Solana rail (as the server connects it) submits N
//! rows and is asked after them until every row is finalized. Printed per case: transactions,
//! rows per transaction, lamports per row (the landed fees, plus the rent of accounts created),
//! and the time from submit to the last row finalized.
//!
//! `cargo bench --bench solana_fees` (needs `tools/surfnet` built: `.ci/run` builds it).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/solana/network.rs"]
mod network;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use payouts::domain::Amount;
use payouts::domain::asset::find;
use payouts::rails::solana::config::Commitment;
use payouts::rails::{Transfer, TxState};
use solana_pubkey::Pubkey;

fn main() {
    let Some(net) = network::network_with_slots_or_skip(400) else { return };
    let dir = tempfile::tempdir().unwrap();
    let mint = net.mint(7, 6, 1_000_000_000_000);
    let keypair = net.keypair_file(dir.path());
    let config = dir.path().join("solana.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"rpc_url": "{}", "keypair_file": "{}",
                "assets": {{"SOL": {{}}, "USDC_SOL": {{"mint": "{mint}", "decimals": 6}}}}}}"#,
            net.rpc_url,
            keypair.display()
        ),
    )
    .unwrap();
    let (_db, url) = common::TestDb::create(payouts::db::Backend::Sqlite);
    let pool = payouts::db::connect(&url, 2).unwrap();
    payouts::db::migrate(&mut pool.get().unwrap()).unwrap();
    // The rail reads the organization's setting on token accounts (on for a new one).
    let org = payouts::db::orgs::insert(
        &mut pool.get().unwrap(),
        &payouts::db::models::NewOrgRow {
            name: "bench",
            created_at: chrono::Utc::now().naive_utc(),
            second_factor_staff: false,
        },
    )
    .unwrap();
    let setup = payouts::rails::family::Setup { pool, clock: Default::default() };
    let chain = payouts::rails::family::ChainConfig { family: "solana".into(), file: config };
    let rail = payouts::rails::family::connect_all(&[chain], &setup).unwrap().remove(0).rail;

    println!(
        "| case | rows | transactions | rows per transaction | lamports per row | compute units per row | submit → all finalized (s) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let cases: [(&str, &str, usize, bool); 5] = [
        ("SOL, one row", "SOL", 1, false),
        ("SOL", "SOL", 100, false),
        ("USDC, accounts exist", "USDC_SOL", 100, true),
        ("USDC, accounts created", "USDC_SOL", 100, false),
        ("USDC, one row, account created", "USDC_SOL", 1, false),
    ];
    for (n, (name, code, rows, existing)) in cases.into_iter().enumerate() {
        let owners = network::recipients(rows, 100 + n as u8);
        if existing {
            net.open_accounts(&mint, &owners);
        }
        let asset = find(code).unwrap();
        let transfers: Vec<Transfer> = owners
            .iter()
            .enumerate()
            .map(|(i, o): (usize, &Pubkey)| Transfer {
                key: format!("bench-{n}-{i}"),
                org_id: org.id,
                asset,
                address: o.to_string(),
                amount: Amount::from_minor(asset, if code == "SOL" { 1_000_000 } else { 1_000_000 + i as i128 }),
            })
            .collect();
        let started = Instant::now();
        let sent = rail.submit(&transfers).unwrap();
        assert_eq!(sent.len(), rows, "{name}: every row sent");
        let keys: Vec<&str> = transfers.iter().map(|t| t.key.as_str()).collect();
        let mut fees = 0i128;
        loop {
            let answers: Vec<_> = rail.lookup_many(&keys).into_iter().map(|a| a.unwrap().unwrap()).collect();
            if answers.iter().all(|a| matches!(a.state, TxState::Confirmed { .. })) {
                for a in &answers {
                    if let TxState::Confirmed { network_fee: Some(fee), .. } = a.state {
                        fees += fee.minor();
                    }
                }
                let txs: HashSet<String> = answers.into_iter().map(|a| a.tx_hash).collect();
                let elapsed = started.elapsed().as_secs_f64();
                // What the rail's estimate guesses per row before simulating (rail.rs's constants).
                let units: u64 = txs.iter().map(|s| consumed(&net.rpc, s)).sum();
                println!(
                    "| {name} | {rows} | {} | {:.1} | {:.0} | {:.0} | {elapsed:.1} |",
                    txs.len(),
                    rows as f64 / txs.len() as f64,
                    fees as f64 / rows as f64,
                    units as f64 / rows as f64
                );
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{name}: not finalized");
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = net.rpc.block_height(Commitment::Finalized);
    }
}

/// The compute units a landed transaction consumed.
fn consumed(rpc: &payouts::rails::solana::rpc::SolanaRpc, signature: &str) -> u64 {
    let config =
        serde_json::json!({"commitment": "finalized", "encoding": "json", "maxSupportedTransactionVersion": 0});
    let tx = rpc.call("getTransaction", serde_json::json!([signature, config])).unwrap();
    tx.pointer("/meta/computeUnitsConsumed").and_then(serde_json::Value::as_u64).unwrap_or(0)
}
