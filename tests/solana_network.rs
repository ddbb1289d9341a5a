//! The Solana transactions the product builds, sent to a real local Solana network (see
//! `solana/network.rs`). The product packs and signs, its JSON-RPC client sends and follows, and
//! the network is asked what arrived.

#[path = "solana/network.rs"]
mod network;

use std::time::Duration;

use network::*;
use payouts::rails::solana::build::{self, Row};
use payouts::rails::solana::config::{Commitment, Payment};
use serde_json::json;
use solana_keypair::Keypair;
use solana_signer::Signer;

#[test]
fn sol_rows_packed_by_size_land_and_every_balance_is_exact() {
    let Some(net) = network_or_skip() else { return };
    let to = recipients(45, 1);
    let rows: Vec<Row> = to
        .iter()
        .enumerate()
        .map(|(i, to)| Row { to: *to, amount: 1_000_000 + i as u64 * 1_001, create_account: false })
        .collect();
    let (blockhash, last_valid) = net.rpc.latest_blockhash(Commitment::Finalized).unwrap();
    assert!(last_valid > net.rpc.block_height(Commitment::Finalized).unwrap(), "a blockhash valid for a while");
    let signed = build::pack(&net.payer, Payment::Native, &rows, blockhash, build::Priority::NONE).unwrap();
    assert_eq!(signed.iter().map(|t| t.rows.len()).collect::<Vec<_>>(), [21, 21, 3]);
    net.send_all(&signed);
    for row in &rows {
        assert_eq!(net.rpc.balance(&row.to.to_string()).unwrap(), row.amount, "paid once, exactly");
    }
    // Sent again, the same bytes change nothing: the network takes a signature once.
    let again = net.rpc.send(&signed[0].bytes);
    assert!(again.as_ref().map_or(true, |s| *s == signed[0].signature), "{again:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(net.rpc.balance(&rows[0].to.to_string()).unwrap(), rows[0].amount, "never twice");
}

#[test]
fn token_rows_create_missing_accounts_and_pay_each_exactly() {
    let Some(net) = network_or_skip() else { return };
    let program = spl_token_interface::id();
    let payer = net.payer.pubkey();
    // A mint of 6 decimals the hot wallet holds tokens of.
    let mint = Keypair::new_from_array([42; 32]);
    let space = 82u64;
    let rent = net.rpc.call("getMinimumBalanceForRentExemption", json!([space])).unwrap().as_u64().unwrap();
    let mine = build::token_account(&payer, &mint.pubkey());
    net.run(
        &[
            solana_system_interface::instruction::create_account(&payer, &mint.pubkey(), rent, space, &program),
            spl_token_interface::instruction::initialize_mint2(&program, &mint.pubkey(), &payer, None, 6).unwrap(),
            spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                &payer,
                &payer,
                &mint.pubkey(),
                &program,
            ),
            spl_token_interface::instruction::mint_to(&program, &mint.pubkey(), &mine, &payer, &[], 10_000_000_000)
                .unwrap(),
        ],
        &[&mint],
    );
    let owners = recipients(45, 2);
    // Fifteen recipients hold an account of the mint already; thirty do not.
    let existing: Vec<_> = owners[..15]
        .iter()
        .map(|o| {
            spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                &payer,
                o,
                &mint.pubkey(),
                &program,
            )
        })
        .collect();
    for chunk in existing.chunks(5) {
        net.run(chunk, &[]);
    }
    let mut rows = Vec::new();
    for (i, owner) in owners.iter().enumerate() {
        let account = build::token_account(owner, &mint.pubkey()).to_string();
        let create_account = !net.rpc.exists(&account).unwrap();
        assert_eq!(create_account, i >= 15);
        rows.push(Row { to: *owner, amount: 1_000_000 + i as u64, create_account });
    }
    let (blockhash, _) = net.rpc.latest_blockhash(Commitment::Finalized).unwrap();
    let usdc = Payment::Token { mint: mint.pubkey().to_bytes(), decimals: 6 };
    let signed = build::pack(
        &net.payer,
        usdc,
        &rows,
        blockhash,
        build::Priority { micro_lamports: 1_000, unit_limit: build::MAX_UNITS },
    )
    .unwrap();
    // The fifteen plain rows fill the first transaction further than rows that create accounts.
    let per_tx: Vec<usize> = signed.iter().map(|t| t.rows.len()).collect();
    assert_eq!(per_tx.iter().sum::<usize>(), 45);
    assert!(per_tx[0] > 10 && per_tx[1..].iter().all(|n| *n <= 10), "{per_tx:?}");
    assert!(signed.iter().all(|t| t.bytes.len() <= build::MAX_TRANSACTION_BYTES));
    net.send_all(&signed);
    for row in &rows {
        let account = build::token_account(&row.to, &mint.pubkey()).to_string();
        assert_eq!(net.rpc.token_balance(&account).unwrap(), Some(row.amount), "paid once, exactly");
    }
    let spent: u64 = rows.iter().map(|r| r.amount).sum();
    assert_eq!(net.rpc.token_balance(&mine.to_string()).unwrap(), Some(10_000_000_000 - spent));
}
