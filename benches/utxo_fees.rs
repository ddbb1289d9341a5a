//! What a UTXO mass payout costs the network, against a real Litecoin Core node in regtest:
//! for 1, 10, 100 and 1,000 rows, the time to fund, sign and finalize the one transaction
//! (`UtxoNode::build`, three RPC calls through the node's wallet), its virtual size, vbytes per
//! row and the fee per row at 10 sat/vB — against one transaction per row, each with its own
//! input and change. Nothing is broadcast; every build's inputs are released.
//!
//! `cargo bench --bench utxo_fees` (needs litecoind: `.ci/run` installs it).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/utxo/harness.rs"]
mod harness;

use std::time::Instant;

use payouts::domain::Amount;
use payouts::domain::asset::find;
use payouts::rails::utxo::UtxoNode;
use payouts::rails::utxo::build::Output;
use serde_json::json;

const RATE: u64 = 10;

fn main() {
    let Some(node) = harness::node_or_skip() else { return };
    // Many mature coins, so that even 1,000 outputs need one or two inputs.
    node.fund("hot", 200);
    let dir = tempfile::tempdir().unwrap();
    let hot = node.config(dir.path(), &[]).and_then(UtxoNode::connect).unwrap();
    let ltc = find("LTC").unwrap();
    let payees = harness::payees(&node, 1000);
    let outputs: Vec<Output> = payees
        .iter()
        .enumerate()
        .map(|(i, address)| Output { address: address.clone(), amount: Amount::from_minor(ltc, 100_000 + i as i128) })
        .collect();

    let single = hot.build(&outputs[..1], RATE).unwrap();
    hot.release(&single.hex).unwrap();
    println!(
        "| rows | build + sign (ms, median of 5) | inputs | vbytes | vbytes per row | fee per row at {RATE} sat/vB | one transaction per row: fee per row | saved |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for rows in [1usize, 10, 100, 1000] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let started = Instant::now();
            let signed = hot.build(&outputs[..rows], RATE).unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            hot.release(&signed.hex).unwrap();
            last = Some(signed);
        }
        times.sort_by(f64::total_cmp);
        let signed = last.unwrap();
        let inputs =
            hot.rpc.node("decoderawtransaction", json!([signed.hex])).unwrap()["vin"].as_array().unwrap().len();
        let per_row = signed.fee_sat as f64 / rows as f64;
        println!(
            "| {rows} | {:.0} | {inputs} | {} | {:.1} | {:.0} sat | {} sat | {:.0} % |",
            times[2],
            signed.vsize,
            signed.vsize as f64 / rows as f64,
            per_row,
            single.fee_sat,
            100.0 * (1.0 - per_row / single.fee_sat as f64)
        );
    }
}
