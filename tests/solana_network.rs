//! The Solana transactions the product builds, sent to a real local Solana network: surfpool's
//! (`tools/surfnet`, a helper binary built apart so that its thousand crates stay out of the
//! product; `.ci/run` builds it). The product packs and signs, its JSON-RPC client sends and
//! follows, and the network is asked what arrived.
//!
//! Without the helper the tests are skipped with a notice, except with `CI=true`.
//! `PAYOUTS_SURFNET` points at another build of it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use payouts::rails::solana::build::{self, Row};
use payouts::rails::solana::config::{Commitment, Payment};
use payouts::rails::solana::rpc::SolanaRpc;
use serde_json::json;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

struct Network {
    child: Child,
    stdin: Option<ChildStdin>,
    rpc: SolanaRpc,
    payer: Keypair,
}

impl Drop for Network {
    fn drop(&mut self) {
        // Closing its input ends the helper; a kill makes sure.
        self.stdin.take();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn helper() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PAYOUTS_SURFNET") {
        return Some(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/surfnet/target"));
    Some(target.join("debug/surfnet-for-tests")).filter(|p| p.is_file())
}

fn network_or_skip() -> Option<Network> {
    let Some(bin) = helper() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true but the Solana test network (tools/surfnet) is not built: the Solana rail would go untested"
            );
        }
        eprintln!(
            "NOTICE: tools/surfnet is not built (cargo build --manifest-path tools/surfnet/Cargo.toml): the Solana \
             network tests are skipped"
        );
        return None;
    };
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the Solana test network runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("it says where it listens");
    let started: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    let bytes: Vec<u8> = serde_json::from_value(started["payer"].clone()).unwrap();
    let secret: [u8; 32] = bytes[..32].try_into().unwrap();
    let rpc = SolanaRpc::new(started["rpc_url"].as_str().unwrap(), Duration::from_secs(30));
    let stdin = child.stdin.take();
    Some(Network { child, stdin, rpc, payer: build::keypair(secret) })
}

/// `n` fresh recipients (wallet keys), none of them known to the network.
fn recipients(n: usize, seed: u8) -> Vec<Pubkey> {
    (0..n)
        .map(|i| {
            let mut secret = [seed; 32];
            secret[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            Keypair::new_from_array(secret).pubkey()
        })
        .collect()
}

impl Network {
    /// Sends each signed transaction and waits until every one is finalized, without error.
    fn send_all(&self, signed: &[build::Signed]) {
        for tx in signed {
            let signature = self.rpc.send(&tx.bytes).expect("the network takes the transaction");
            assert_eq!(signature, tx.signature, "the network names it by the signature the product computed");
        }
        let signatures: Vec<&str> = signed.iter().map(|t| t.signature.as_str()).collect();
        let started = Instant::now();
        loop {
            let statuses = self.rpc.statuses(&signatures).unwrap();
            for status in statuses.iter().flatten() {
                assert_eq!(status.error, None, "{status:?}");
            }
            if statuses.iter().all(|s| s.as_ref().is_some_and(|s| s.confirmation == "finalized")) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "not finalized: {statuses:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Signs and sends instructions from the payer (with `also` signing), waiting for them.
    fn run(&self, instructions: &[solana_instruction::Instruction], also: &[&Keypair]) {
        let (blockhash, _) = self.rpc.latest_blockhash(Commitment::Confirmed).unwrap();
        let mut signers: Vec<&Keypair> = vec![&self.payer];
        signers.extend(also);
        let tx = solana_transaction::Transaction::new_signed_with_payer(
            instructions,
            Some(&self.payer.pubkey()),
            &signers,
            blockhash,
        );
        let signature = tx.signatures[0].to_string();
        let bytes = bincode::serialize(&tx).unwrap();
        self.send_all(&[build::Signed { rows: 0..0, signature, bytes, instruction_index: Vec::new() }]);
    }
}

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
    let signed = build::pack(&net.payer, Payment::Native, &rows, blockhash, 0).unwrap();
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
    let signed = build::pack(&net.payer, usdc, &rows, blockhash, 1_000).unwrap();
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
