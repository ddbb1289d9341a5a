//! A local Solana network for the Solana rail's tests: surfpool's in-process network (offline,
//! real JSON-RPC on 127.0.0.1, slots every `SLOT_MS` milliseconds, the SPL Token and Associated
//! Token Account programs built in). Prints one JSON line — the RPC URL and the funded payer's
//! keypair as the Solana CLI writes it — then serves until its standard input closes (the test
//! that started it ended).

use std::io::BufRead;

use surfpool_sdk::{BlockProductionMode, Surfnet};

#[tokio::main]
async fn main() {
    let slot_ms = std::env::var("SLOT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let surfnet = Surfnet::builder()
        .offline(true)
        .block_production_mode(BlockProductionMode::Clock)
        .slot_time_ms(slot_ms)
        .airdrop_sol(1_000_000_000_000)
        .start()
        .await
        .expect("the local Solana network starts");
    let line = serde_json::json!({
        "rpc_url": surfnet.rpc_url(),
        "payer": surfnet.payer().to_bytes().to_vec(),
    });
    println!("{line}");
    let stdin = std::io::stdin();
    tokio::task::spawn_blocking(move || {
        let mut ignored = String::new();
        while stdin.lock().read_line(&mut ignored).is_ok_and(|n| n > 0) {
            ignored.clear();
        }
    })
    .await
    .ok();
    drop(surfnet);
}
