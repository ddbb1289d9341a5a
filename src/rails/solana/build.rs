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

/// Packs `rows` into as few transactions as fit, each at most [`MAX_TRANSACTION_BYTES`], in row
/// order, each starting with a compute-unit price when `priority_micro_lamports` is set, and
/// signs them. A row too large for a transaction of its own is an error naming it.
pub fn pack(
    payer: &Keypair,
    payment: Payment,
    rows: &[Row],
    blockhash: Hash,
    priority_micro_lamports: u64,
) -> Result<Vec<Signed>, String> {
    let wallet = payer.pubkey();
    let head: Vec<Instruction> = if priority_micro_lamports > 0 {
        vec![solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_price(priority_micro_lamports)]
    } else {
        Vec::new()
    };
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
        let plain = pack(&payer, usdc(), &rows(45, false), blockhash, 0).unwrap();
        assert_eq!(sizes(&plain), [20, 20, 5]);
        let creating = pack(&payer, usdc(), &rows(45, true), blockhash, 0).unwrap();
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
        let full = |payment, create, priority| {
            let signed = pack(&payer, payment, &rows(100, create), blockhash, priority).unwrap();
            (signed[0].rows.len(), signed[0].bytes.len())
        };
        assert_eq!(full(usdc(), false, 0), (20, 1210));
        assert_eq!(full(usdc(), true, 0), (10, 1204));
        assert_eq!(full(usdc(), false, 1_000), (19, 1205));
        assert_eq!(full(Payment::Native, false, 0), (21, 1195));
    }

    #[test]
    fn each_row_knows_its_transfer_instruction_and_mixed_rows_pack_by_their_own_size() {
        let payer = keypair([7; 32]);
        let blockhash = Hash::new_from_array([3; 32]);
        let mut mixed = rows(6, false);
        mixed[1].create_account = true;
        mixed[4].create_account = true;
        let signed = pack(&payer, usdc(), &mixed, blockhash, 5_000).unwrap();
        assert_eq!(signed.len(), 1);
        // The compute-unit price first, then each row: a creation before its transfer.
        assert_eq!(signed[0].instruction_index, [1, 3, 4, 5, 7, 8]);
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
        let sol = pack(&payer, Payment::Native, &rows(40, false), blockhash, 0).unwrap();
        assert!(sol.len() >= 2 && sol.iter().all(|t| t.bytes.len() <= MAX_TRANSACTION_BYTES));
        assert_eq!(sol.iter().map(|t| t.rows.len()).sum::<usize>(), 40);
    }
}
