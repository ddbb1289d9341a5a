//! Gas and time of EVM mass payouts, one transaction per row against the PayoutBatch contract,
//! on anvil (blocks every second, as in the tests). Prints two tables:
//!
//! - gas per row for 1, 10, 100 and 1,000-row ETH and token payouts, each row to a new address,
//!   measured from the receipts of transactions the bench sends itself (batches in chunks of the
//!   product's default size);
//! - wall time for the real server to complete a 1,000-row token payout both ways (SQLite).
//!
//! `cargo bench --bench evm_gas` (needs anvil: `.ci/run` installs it).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/evm/harness.rs"]
mod harness;

use std::time::Instant;

use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use harness::*;
use payouts::db::Backend;
use payouts::rails::evm::batch::BATCH_BYTECODE;
use payouts::rails::evm::config::DEFAULT_BATCH_ROWS;

alloy::sol! {
    function transfer(address to, uint256 amount) returns (bool);
    function approve(address spender, uint256 amount) returns (bool);
    function payEther(address[] to, uint256[] amounts);
    function payToken(address token, uint256 total, uint256[] rows);
    function disperseToken(address token, address[] recipients, uint256[] values);
}

struct Meter<'a> {
    chain: &'a Chain,
    wallet: PrivateKeySigner,
    next: u64,
    /// What the transactions measured paid before executing anything: 21,000 each and their
    /// calldata (EIP-2028). Forge's gas reports, which the published airdrop figures come from,
    /// count a contract call's execution only.
    intrinsic: u64,
}

/// 21,000 and 16 gas a non-zero calldata byte, 4 a zero one (the EIP-7623 floor is far below
/// these transactions' execution).
fn intrinsic(input: &[u8]) -> u64 {
    21_000 + input.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum::<u64>()
}

impl Meter<'_> {
    fn fresh(&mut self) -> Address {
        self.next += 1;
        recipient(9_000_000 + self.next)
    }

    /// Sends (with the node's gas estimate) and waits; the gas the receipt says was used.
    fn gas(&mut self, to: TxKind, value: U256, input: Bytes) -> u64 {
        let rpc = &self.chain.rpc;
        let estimate = match to {
            TxKind::Call(address) => rpc
                .estimate_gas(&payouts::rails::evm::rpc::Call {
                    from: self.wallet.address(),
                    to: address,
                    value,
                    input: input.clone(),
                })
                .unwrap(),
            TxKind::Create => 2_000_000,
        };
        self.intrinsic += intrinsic(&input);
        // A margin, under anvil's 30,000,000 block gas limit.
        let (hash, raw) = sign_with_gas(rpc, &self.wallet, to, value, input, (estimate * 6 / 5).min(29_900_000));
        rpc.send_raw(&raw).unwrap();
        wait_mined(&self.chain.rpc, &hash);
        let receipt = self.chain.rpc.receipt(hash.parse().unwrap()).unwrap().unwrap();
        assert!(receipt.success, "{hash} reverted");
        receipt.gas_used
    }

    /// Total gas of `rows` rows sent one transaction each (sent together, mined together), to
    /// `existing` accounts when given, else to new ones.
    fn per_row(&mut self, token: bool, rows: usize, existing: &[Address]) -> u64 {
        let mut hashes = Vec::new();
        for n in 0..rows {
            let to = existing.get(n).copied().unwrap_or_else(|| self.fresh());
            let (kind, value, input) = if token {
                (
                    TxKind::Call(self.chain.token),
                    U256::ZERO,
                    transferCall { to, amount: U256::from(1_000_000u64) }.abi_encode().into(),
                )
            } else {
                (TxKind::Call(to), U256::from(1_000_000_000_000u64), Bytes::new())
            };
            hashes.push(send(&self.chain.rpc, &self.wallet, kind, value, input));
        }
        hashes
            .iter()
            .map(|h| {
                wait_mined(&self.chain.rpc, h);
                self.chain.rpc.receipt(h.parse().unwrap()).unwrap().unwrap().gas_used
            })
            .sum()
    }

    /// Total gas of `rows` rows through the contract, in chunks of the product's default size,
    /// to `existing` accounts when given, else to new ones.
    fn batched(&mut self, contract: Address, token: bool, rows: usize, existing: &[Address]) -> u64 {
        self.batched_of(contract, token.then_some(self.chain.token), rows, DEFAULT_BATCH_ROWS, existing)
    }

    /// [`Self::batched`] for ether (`token` None) or this token, in chunks of `chunk` rows.
    fn batched_of(
        &mut self,
        contract: Address,
        token: Option<Address>,
        rows: usize,
        chunk: usize,
        existing: &[Address],
    ) -> u64 {
        let mut total = 0;
        let mut left = rows;
        let mut next = existing.iter();
        while left > 0 {
            let n = left.min(chunk);
            let to: Vec<Address> = (0..n).map(|_| next.next().copied().unwrap_or_else(|| self.fresh())).collect();
            let (value, input): (U256, Bytes) = if let Some(token) = token {
                let amount = U256::from(1_000_000u64);
                let rows = to.iter().map(|to| payouts::rails::evm::batch::token_row(*to, amount)).collect();
                let total = amount * U256::from(n);
                (U256::ZERO, payTokenCall { token, total, rows }.abi_encode().into())
            } else {
                let amounts = vec![U256::from(1_000_000_000_000u64); n];
                (U256::from(1_000_000_000_000u64) * U256::from(n), payEtherCall { to, amounts }.abi_encode().into())
            };
            total += self.gas(TxKind::Call(contract), value, input);
            left -= n;
        }
        total
    }
}

/// Seconds for the real server to complete a 1,000-row token payout with this config file.
fn time_to_complete(chain: &Chain, dir: &std::path::Path, config: std::path::PathBuf, base: u64) -> f64 {
    let books = Books::open(Backend::Sqlite);
    let rows: Vec<(Address, &str)> = (0..1_000).map(|n| (recipient(base + n), "1")).collect();
    let payout = books.pay("USDT_ERC20", &rows, "bench");
    let started = Instant::now();
    let _server = books.serve_with(config, dir, WALLET_KEY);
    assert_eq!(books.wait_end(payout), "completed");
    let seconds = started.elapsed().as_secs_f64();
    for (to, _) in rows.iter().step_by(97) {
        assert_eq!(chain.tokens(*to), U256::from(1_000_000u64));
    }
    seconds
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(anvil) = anvil_binary() else {
        eprintln!("anvil not found (npm @foundry-rs/anvil-linux-amd64; .ci/run installs it)");
        return;
    };
    let chain = Chain::start(&anvil);
    let wallet: PrivateKeySigner = WALLET_KEY.parse().unwrap();
    let mut meter = Meter { chain: &chain, wallet: wallet.clone(), next: 0, intrinsic: 0 };
    let code: Bytes = alloy::hex::decode(BATCH_BYTECODE.trim()).unwrap().into();
    let nonce = chain.rpc.pending_nonce(wallet.address()).unwrap();
    meter.gas(TxKind::Create, U256::ZERO, code);
    let contract = wallet.address().create(nonce);
    meter.gas(
        TxKind::Call(chain.token),
        U256::ZERO,
        approveCall { spender: contract, amount: U256::MAX }.abi_encode().into(),
    );

    println!("gas per row (batches of at most {DEFAULT_BATCH_ROWS} rows):");
    println!("{:>6} {:>9} {:>6} {:>11} {:>9} {:>8}", "asset", "to", "rows", "tx per row", "batched", "saving");
    for (token, existing) in [(false, false), (false, true), (true, false)] {
        for rows in [1usize, 10, 100, 1_000] {
            // Accounts that exist already: made by a batch first (not measured).
            let known: Vec<Address> = if existing { (0..rows).map(|_| meter.fresh()).collect() } else { Vec::new() };
            if existing {
                meter.batched(contract, false, rows, &known);
            }
            let plain = meter.per_row(token, rows, &known) / rows as u64;
            let batched = meter.batched(contract, token, rows, &known) / rows as u64;
            let saving = 100.0 * (1.0 - batched as f64 / plain as f64);
            let (asset, to) = (if token { "token" } else { "ETH" }, if existing { "existing" } else { "new" });
            println!("{asset:>6} {to:>9} {rows:>6} {plain:>11} {batched:>9} {saving:>7.1}%");
        }
    }

    // The same 1,000 fresh token rows paid the way Disperse pays them (tests/evm/DisperseStyle.sol),
    // in the same chunks, on three tokens: TestToken (checked arithmetic, as OpenZeppelin's),
    // LeanToken (solc's way, unchecked where it cannot overflow) and AsmToken (written as Solady's
    // ERC20, the token of the published airdrop figures, is). Each figure twice: what the
    // transactions cost, and their execution alone (without the 21,000 and the calldata each
    // transaction pays first), which is what the published figures (Forge) count.
    let deploy = |meter: &mut Meter, bin: &str, args: Vec<u8>| {
        let mut code = alloy::hex::decode(bin.trim()).unwrap();
        code.extend(args);
        let nonce = chain.rpc.pending_nonce(wallet.address()).unwrap();
        meter.gas(TxKind::Create, U256::ZERO, code.into());
        wallet.address().create(nonce)
    };
    let disperse = deploy(&mut meter, include_str!("../tests/evm/DisperseStyle.bin"), Vec::new());
    let supply = alloy::sol_types::SolValue::abi_encode(&U256::from(1_000_000_000_000u64));
    let lean = deploy(&mut meter, include_str!("../tests/evm/LeanToken.bin"), supply.clone());
    let asm = deploy(&mut meter, include_str!("../tests/evm/AsmToken.bin"), supply);
    for (token, spender) in
        [(chain.token, disperse), (lean, contract), (lean, disperse), (asm, contract), (asm, disperse)]
    {
        meter.gas(TxKind::Call(token), U256::ZERO, approveCall { spender, amount: U256::MAX }.abi_encode().into());
    }
    println!("1,000 fresh token rows, gas per row: paid (execution alone)");
    println!(
        "{:>10} {:>22} {:>22} {:>22}",
        "token",
        format!("ours, {DEFAULT_BATCH_ROWS} a call"),
        "ours, 1,000 in 1 call",
        format!("Disperse's, {DEFAULT_BATCH_ROWS} a call")
    );
    let figure = |meter: &mut Meter, run: &mut dyn FnMut(&mut Meter) -> u64| {
        let before = meter.intrinsic;
        let paid = run(meter);
        let execution = paid - (meter.intrinsic - before);
        format!("{} ({})", paid / 1_000, execution / 1_000)
    };
    for (name, token) in [("TestToken", chain.token), ("LeanToken", lean), ("AsmToken", asm)] {
        let chunked = figure(&mut meter, &mut |m| m.batched_of(contract, Some(token), 1_000, DEFAULT_BATCH_ROWS, &[]));
        let whole = figure(&mut meter, &mut |m| m.batched_of(contract, Some(token), 1_000, 1_000, &[]));
        let theirs = figure(&mut meter, &mut |m| {
            let mut paid = 0;
            for _ in 0..1_000 / DEFAULT_BATCH_ROWS {
                let recipients: Vec<Address> = (0..DEFAULT_BATCH_ROWS).map(|_| m.fresh()).collect();
                let values = vec![U256::from(1_000_000u64); DEFAULT_BATCH_ROWS];
                let input = disperseTokenCall { token, recipients, values }.abi_encode().into();
                paid += m.gas(TxKind::Call(disperse), U256::ZERO, input);
            }
            paid
        });
        println!("{name:>10} {chunked:>22} {whole:>22} {theirs:>22}");
    }

    let dir = tempfile::tempdir().unwrap();
    let plain = chain.config_file(dir.path());
    let mut file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plain).unwrap()).unwrap();
    file["batch_contract"] = format!("{contract:#x}").into();
    let batched = dir.path().join("batched.json");
    std::fs::write(&batched, file.to_string()).unwrap();
    let one_each = time_to_complete(&chain, dir.path(), plain, 20_000_000);
    let in_batches = time_to_complete(&chain, dir.path(), batched, 30_000_000);
    println!("1,000-row token payout, server start to Completed (2 confirmations, a block a second):");
    println!("  one transaction per row: {one_each:.1} s");
    println!("  batched ({DEFAULT_BATCH_ROWS} rows a transaction): {in_batches:.1} s");
}
