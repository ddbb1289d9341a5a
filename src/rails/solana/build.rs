//! A payout's rows as Solana transactions: each row's instructions (a SOL transfer, or for a
//! token an idempotent creation of the recipient's token account when it has none, then
//! `transfer_checked`), packed greedily by the signed transaction's serialized size — a
//! transaction is at most 1,232 bytes — never by a constant, in row order. Signed here with the
//! hot wallet's key and a recent blockhash; nothing is sent.

use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_message::Message;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::Transaction;

use super::config::Payment;

/// The largest transaction the network takes: an IPv6 packet's payload less headers.
pub const MAX_TRANSACTION_BYTES: usize = 1232;

/// One row to pay: to whom (a wallet, the owner of the token account for a token), how much in
/// the asset's smallest unit, and whether its token account must be created first.
#[derive(Debug, Clone)]
pub struct Row {
    pub to: Pubkey,
    pub amount: u64,
    pub create_account: bool,
}

/// One signed transaction paying `rows` (a range of the rows given, in order).
#[derive(Debug, Clone)]
pub struct Signed {
    pub rows: std::ops::Range<usize>,
    /// The transaction's first signature, base58: its name on the network.
    pub signature: String,
    pub bytes: Vec<u8>,
    /// Where each row's transfer is among the transaction's instructions.
    pub instruction_index: Vec<u32>,
    /// How many compute-budget instructions come before the rows'.
    pub head: u32,
}

/// The hot wallet's keypair for signing, from its 32-byte secret.
pub fn keypair(secret: [u8; 32]) -> Keypair {
    Keypair::new_from_array(secret)
}

/// The associated token account of `owner` for `mint` (classic SPL Token program).
pub fn token_account(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    spl_associated_token_account_interface::address::get_associated_token_address(owner, mint)
}

/// The instructions paying one row from `payer`; the last one is the transfer itself.
fn instructions(payer: &Pubkey, payment: Payment, row: &Row) -> Vec<Instruction> {
    match payment {
        Payment::Native => vec![solana_system_interface::instruction::transfer(payer, &row.to, row.amount)],
        Payment::Token { mint, decimals } => {
            let mint = Pubkey::new_from_array(mint);
            let program = spl_token_interface::id();
            let mut out = Vec::with_capacity(2);
            if row.create_account {
                out.push(
                    spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                        payer, &row.to, &mint, &program,
                    ),
                );
            }
            let (from, to) = (token_account(payer, &mint), token_account(&row.to, &mint));
            let transfer = spl_token_interface::instruction::transfer_checked(
                &program,
                &from,
                &mint,
                &to,
                payer,
                &[],
                row.amount,
                decimals,
            )
            .expect("the SPL Token program's own id");
            out.push(transfer);
            out
        }
    }
}

/// Serialized size of a transaction of `instructions` signed by `payer` alone.
fn size(payer: &Pubkey, instructions: &[Instruction], blockhash: &Hash) -> usize {
    let message = Message::new_with_blockhash(instructions, Some(payer), blockhash);
    let tx = Transaction::new_unsigned(message);
    bincode::serialized_size(&tx).map_or(usize::MAX, |n| n as usize)
}

/// What a transaction pays beyond the 5,000 lamports per signature: a price per compute unit
/// (micro-lamports) on at most `unit_limit` units. A price of 0 pays nothing more and adds no
/// instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    pub micro_lamports: u64,
    pub unit_limit: u32,
}

impl Priority {
    pub const NONE: Priority = Priority { micro_lamports: 0, unit_limit: MAX_UNITS };

    /// What the priority adds to a transaction's fee, in lamports.
    pub fn lamports(self) -> u64 {
        (u128::from(self.micro_lamports) * u128::from(self.unit_limit)).div_ceil(1_000_000) as u64
    }

    fn instructions(self) -> Vec<Instruction> {
        use solana_compute_budget_interface::ComputeBudgetInstruction as Budget;
        if self.micro_lamports == 0 {
            return Vec::new();
        }
        vec![Budget::set_compute_unit_limit(self.unit_limit), Budget::set_compute_unit_price(self.micro_lamports)]
    }
}

/// The most compute units a transaction may use.
pub const MAX_UNITS: u32 = 1_400_000;

/// Signs one transaction paying all of `rows`; an error when they do not fit in one.
pub fn sign(
    payer: &Keypair,
    payment: Payment,
    rows: &[Row],
    blockhash: Hash,
    priority: Priority,
) -> Result<Signed, String> {
    let signed = pack(payer, payment, rows, blockhash, priority)?;
    match <[Signed; 1]>::try_from(signed) {
        Ok([one]) => Ok(one),
        Err(_) => Err(format!("{} rows do not fit in one transaction", rows.len())),
    }
}

/// Which row an instruction of a signed transaction belongs to: a row's instructions end at its
/// transfer. None for the compute-budget instructions before the rows.
pub fn row_of_instruction(signed: &Signed, instruction: u32) -> Option<usize> {
    if instruction < signed.head {
        return None;
    }
    signed.instruction_index.iter().position(|n| *n >= instruction)
}

/// Packs `rows` into as few transactions as fit, each at most [`MAX_TRANSACTION_BYTES`], in row
/// order, each starting with the compute budget when `priority` pays one, and signs them. A row
/// too large for a transaction of its own is an error naming it.
pub fn pack(
    payer: &Keypair,
    payment: Payment,
    rows: &[Row],
    blockhash: Hash,
    priority: Priority,
) -> Result<Vec<Signed>, String> {
    let wallet = payer.pubkey();
    let head = priority.instructions();
    let mut signed = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut taken = head.clone();
        let mut indexes = Vec::new();
        let mut end = start;
        while end < rows.len() {
            let mut more = taken.clone();
            more.extend(instructions(&wallet, payment, &rows[end]));
            if size(&wallet, &more, &blockhash) > MAX_TRANSACTION_BYTES {
                break;
            }
            indexes.push(more.len() as u32 - 1);
            taken = more;
            end += 1;
        }
        if end == start {
            return Err(format!("row {} does not fit in a transaction of its own", start + 1));
        }
        let message = Message::new_with_blockhash(&taken, Some(&wallet), &blockhash);
        let mut tx = Transaction::new_unsigned(message);
        tx.try_sign(&[payer], blockhash).map_err(|e| e.to_string())?;
        let bytes = bincode::serialize(&tx).map_err(|e| e.to_string())?;
        signed.push(Signed {
            rows: start..end,
            signature: tx.signatures[0].to_string(),
            bytes,
            instruction_index: indexes,
            head: head.len() as u32,
        });
        start = end;
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";

    /// `n` distinct recipients (a key's bytes need not be random to take its 32 bytes).
    fn rows(n: usize, create_account: bool) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let mut key = [0xa5; 32];
                key[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
                Row { to: Pubkey::new_from_array(key), amount: 1_000_000 + i as u64, create_account }
            })
            .collect()
    }

    fn usdc() -> Payment {
        Payment::Token { mint: bs58::decode(USDC).into_vec().unwrap().try_into().unwrap(), decimals: 6 }
    }

    fn sizes(signed: &[Signed]) -> Vec<usize> {
        signed.iter().map(|s| s.rows.len()).collect()
    }

    #[test]
    fn token_rows_are_packed_by_size_twenty_to_a_transaction_ten_when_accounts_are_made() {
        let payer = keypair([7; 32]);
        let blockhash = Hash::new_from_array([3; 32]);
        let plain = pack(&payer, usdc(), &rows(45, false), blockhash, Priority::NONE).unwrap();
        assert_eq!(sizes(&plain), [20, 20, 5]);
        let creating = pack(&payer, usdc(), &rows(45, true), blockhash, Priority::NONE).unwrap();
        assert_eq!(sizes(&creating), [10, 10, 10, 10, 5]);
        for tx in plain.iter().chain(&creating) {
            assert!(tx.bytes.len() <= MAX_TRANSACTION_BYTES, "{} bytes", tx.bytes.len());
            let decoded: Transaction = bincode::deserialize(&tx.bytes).unwrap();
            assert_eq!(decoded.signatures[0].to_string(), tx.signature);
            assert_eq!(decoded.message.account_keys[0], payer.pubkey(), "the hot wallet pays the fee");
            assert_eq!(decoded.message.recent_blockhash, blockhash);
        }
        // Full: the next row would not fit.
        let first = &plain[0];
        let mut more: Vec<Instruction> = Vec::new();
        for row in &rows(21, false) {
            more.extend(instructions(&payer.pubkey(), usdc(), row));
        }
        assert!(size(&payer.pubkey(), &more, &blockhash) > MAX_TRANSACTION_BYTES);
        assert!(first.bytes.len() > 1100, "{} bytes: packed close to the limit", first.bytes.len());
    }

    /// The figures BENCHMARKS.md records: rows and bytes per full transaction.
    #[test]
    fn full_transactions_measure_what_benchmarks_records() {
        let payer = keypair([7; 32]);
        let blockhash = Hash::new_from_array([3; 32]);
        let full = |payment, create, micro_lamports| {
            let priority = Priority { micro_lamports, unit_limit: 200_000 };
            let signed = pack(&payer, payment, &rows(100, create), blockhash, priority).unwrap();
            (signed[0].rows.len(), signed[0].bytes.len())
        };
        assert_eq!(full(usdc(), false, 0), (20, 1210));
        assert_eq!(full(usdc(), true, 0), (10, 1204));
        assert_eq!(full(usdc(), false, 1_000), (19, 1213));
        assert_eq!(full(Payment::Native, false, 0), (21, 1195));
    }

    #[test]
    fn each_row_knows_its_transfer_instruction_and_mixed_rows_pack_by_their_own_size() {
        let payer = keypair([7; 32]);
        let blockhash = Hash::new_from_array([3; 32]);
        let mut mixed = rows(6, false);
        mixed[1].create_account = true;
        mixed[4].create_account = true;
        let signed =
            pack(&payer, usdc(), &mixed, blockhash, Priority { micro_lamports: 5_000, unit_limit: 90_000 }).unwrap();
        assert_eq!(signed.len(), 1);
        // The compute budget first, then each row: a creation before its transfer.
        assert_eq!(signed[0].instruction_index, [2, 4, 5, 6, 8, 9]);
        assert_eq!(
            (0..10).map(|n| row_of_instruction(&signed[0], n)).collect::<Vec<_>>(),
            [None, None, Some(0), Some(1), Some(1), Some(2), Some(3), Some(4), Some(4), Some(5)]
        );
        assert_eq!(Priority { micro_lamports: 5_000, unit_limit: 90_000 }.lamports(), 450);
        let decoded: Transaction = bincode::deserialize(&signed[0].bytes).unwrap();
        let token = spl_token_interface::id();
        for (row, n) in mixed.iter().zip(&signed[0].instruction_index) {
            let ix = &decoded.message.instructions[*n as usize];
            assert_eq!(decoded.message.account_keys[ix.program_id_index as usize], token);
            // transfer_checked: tag 12, the amount, the decimals.
            assert_eq!(ix.data[0], 12);
            assert_eq!(u64::from_le_bytes(ix.data[1..9].try_into().unwrap()), row.amount);
            assert_eq!(ix.data[9], 6);
        }
        let sol = pack(&payer, Payment::Native, &rows(40, false), blockhash, Priority::NONE).unwrap();
        assert!(sol.len() >= 2 && sol.iter().all(|t| t.bytes.len() <= MAX_TRANSACTION_BYTES));
        assert_eq!(sol.iter().map(|t| t.rows.len()).sum::<usize>(), 40);
    }
}
