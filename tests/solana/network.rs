//! A local Solana network for the Solana tests: surfpool's (`tools/surfnet`, a helper binary
//! built apart so that its thousand crates stay out of the product; `.ci/run` builds it), with
//! a funded payer and helpers to make mints, token accounts and frozen accounts as an issuer
//! would. Without the helper the tests are skipped with a notice, except with `CI=true`;
//! `PAYOUTS_SURFNET` points at another build of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use payouts::rails::solana::build;
use payouts::rails::solana::config::Commitment;
use payouts::rails::solana::rpc::SolanaRpc;
use serde_json::json;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

pub struct Network {
    child: Child,
    stdin: Option<ChildStdin>,
    pub rpc: SolanaRpc,
    pub payer: Keypair,
    pub rpc_url: String,
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

pub fn network_or_skip() -> Option<Network> {
    network_with_slots_or_skip(50)
}

/// A network producing a slot every `slot_ms` milliseconds.
pub fn network_with_slots_or_skip(slot_ms: u64) -> Option<Network> {
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
        .env("SLOT_MS", slot_ms.to_string())
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
    let rpc_url = started["rpc_url"].as_str().unwrap().to_owned();
    Some(Network { child, stdin, rpc, payer: build::keypair(secret), rpc_url })
}

/// `n` fresh recipients (wallet keys), none of them known to the network.
pub fn recipients(n: usize, seed: u8) -> Vec<Pubkey> {
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
    pub fn send_all(&self, signed: &[build::Signed]) {
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
    pub fn run(&self, instructions: &[solana_instruction::Instruction], also: &[&Keypair]) {
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
        self.send_all(&[build::Signed { rows: 0..0, signature, bytes, instruction_index: Vec::new(), head: 0 }]);
    }
}

impl Network {
    /// A mint of `decimals` whose authority (and freeze authority) is the payer, with `supply`
    /// of its smallest unit in the payer's token account.
    pub fn mint(&self, seed: u8, decimals: u8, supply: u64) -> Pubkey {
        let program = spl_token_interface::id();
        let payer = self.payer.pubkey();
        let mint = Keypair::new_from_array([seed; 32]);
        let space = 82u64;
        let rent = self.rpc.call("getMinimumBalanceForRentExemption", json!([space])).unwrap().as_u64().unwrap();
        let mine = build::token_account(&payer, &mint.pubkey());
        self.run(
            &[
                solana_system_interface::instruction::create_account(&payer, &mint.pubkey(), rent, space, &program),
                spl_token_interface::instruction::initialize_mint2(
                    &program,
                    &mint.pubkey(),
                    &payer,
                    Some(&payer),
                    decimals,
                )
                .unwrap(),
                spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                    &payer,
                    &payer,
                    &mint.pubkey(),
                    &program,
                ),
                spl_token_interface::instruction::mint_to(&program, &mint.pubkey(), &mine, &payer, &[], supply)
                    .unwrap(),
            ],
            &[&mint],
        );
        mint.pubkey()
    }

    /// Token accounts of `mint` for each of `owners`, made by the payer.
    pub fn open_accounts(&self, mint: &Pubkey, owners: &[Pubkey]) {
        let program = spl_token_interface::id();
        let made: Vec<_> = owners
            .iter()
            .map(|o| {
                spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                    &self.payer.pubkey(),
                    o,
                    mint,
                    &program,
                )
            })
            .collect();
        for chunk in made.chunks(5) {
            self.run(chunk, &[]);
        }
    }

    /// Freezes `owner`'s token account of `mint`, as the token's issuer can.
    pub fn freeze(&self, mint: &Pubkey, owner: &Pubkey) {
        let program = spl_token_interface::id();
        let account = build::token_account(owner, mint);
        let payer = self.payer.pubkey();
        self.run(
            &[spl_token_interface::instruction::freeze_account(&program, &account, mint, &payer, &[]).unwrap()],
            &[],
        );
    }

    /// The owner's balance of `mint` in its token account; None when it has none.
    pub fn tokens(&self, mint: &Pubkey, owner: &Pubkey) -> Option<u64> {
        self.rpc.token_balance(&build::token_account(owner, mint).to_string()).unwrap()
    }

    /// The payer's keypair as the Solana CLI writes it, in a file under `dir`.
    pub fn keypair_file(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join("hot-wallet.json");
        std::fs::write(&path, serde_json::to_string(&self.payer.to_bytes().to_vec()).unwrap()).unwrap();
        path
    }
}
