//! Turning rows into transactions the network will take: each recipient's token account read
//! (created when missing, refused when frozen or not a token account of the mint), each chunk
//! simulated before it is stored, a row the network refuses alone left out with the reason, and
//! the wallet's coin and tokens counted down chunk by chunk so that no chunk is stored that the
//! wallet cannot pay after the ones before it.

use serde_json::Value;
use solana_hash::Hash;
use solana_pubkey::Pubkey;
use solana_transaction::Transaction;

use super::build::{self, MAX_UNITS, Priority, Row, Signed};
use super::config::Payment;
use super::rail::SolanaRail;
use super::rpc::{Account, RpcError};

/// The size of an SPL token account's data; its state (frozen: 2) is at byte 108.
const TOKEN_ACCOUNT_BYTES: usize = 165;
const FROZEN: u8 = 2;

/// More rows than fit in any one transaction (21 SOL transfers do).
const WINDOW: usize = 64;

/// 5,000 lamports per signature; the rail's transactions carry one.
pub const BASE_FEE: u64 = 5_000;

/// A row to prepare: the owner's address and the amount in the asset's smallest unit.
pub struct Wanted<'a> {
    pub address: &'a str,
    pub amount: u64,
    /// Whether the organization lets the rail create the recipient's token account.
    pub may_create: bool,
}

/// A chunk ready to be stored and sent: the transaction, and the input rows it pays in order
/// (with whether each creates its recipient's token account).
pub struct Chunk {
    pub signed: Signed,
    pub rows: Vec<usize>,
    pub creates: Vec<bool>,
}

#[derive(Default)]
pub struct Prepared {
    pub chunks: Vec<Chunk>,
    /// Input rows the network refuses alone, with the reason.
    pub refused: Vec<(usize, String)>,
    /// How many input rows, from the first, are decided (in a chunk or refused); the rest wait.
    pub decided: usize,
    /// Why the rest wait (the wallet is short, the node did not answer).
    pub waiting: Option<String>,
}

/// Why a simulation failed.
enum Refusal {
    /// The hot wallet lacks coin or tokens: nothing is the row's fault.
    Wallet(String),
    /// This row of the chunk, for this reason.
    Row(usize, String),
    /// Anything else: try again later.
    Other(String),
}

fn custom(detail: &Value) -> Option<u64> {
    detail.get("Custom").and_then(Value::as_u64)
}

/// A person's reading of what the network said of one row's instruction, when it can only be
/// the recipient's doing (the hot wallet's own token account was read usable first); None for
/// anything else, which makes the rows wait rather than fail.
fn row_reason(detail: &Value, creates: bool) -> Option<String> {
    let why = match (custom(detail), detail.as_str()) {
        (Some(17), _) => "the recipient's token account is frozen by the token's issuer",
        (Some(3), _) => "the recipient's token account holds another token",
        (Some(0), _) if creates => "an account of another owner sits at the recipient's token account address",
        (_, Some("InvalidAccountData" | "InvalidAccountOwner" | "IncorrectProgramId" | "UninitializedAccount")) => {
            "the recipient's token account is not an account of this token"
        }
        _ => return None,
    };
    Some(format!("Refused by the Solana network before anything was sent: {why}."))
}

impl SolanaRail {
    /// Prepares `wanted` (all of one asset) for sending, in order, with `blockhash`, paying
    /// `price` micro-lamports per compute unit (0: the base fee only).
    pub(super) fn prepare(
        &self,
        payment: Payment,
        code: &str,
        wanted: &[Wanted],
        blockhash: Hash,
        price: u64,
    ) -> Prepared {
        let mut out = Prepared::default();
        let wait = |out: &mut Prepared, why: String| out.waiting = Some(why);
        // Each row's recipient and whether its token account must be made, or why it cannot be paid.
        let rows = match self.recipients(payment, code, wanted) {
            Ok(rows) => rows,
            Err(e) => {
                wait(&mut out, e.to_string());
                return out;
            }
        };
        let (mut lamports, mut tokens) = match self.holdings(payment) {
            Ok(held) => held,
            Err(e) => {
                wait(&mut out, e);
                return out;
            }
        };
        let mut live: Vec<(usize, Row)> = Vec::new();
        for (n, row) in rows.into_iter().enumerate() {
            match row {
                Ok(row) => live.push((n, row)),
                Err(why) => out.refused.push((n, why)),
            }
        }
        // Rows are taken in order; `next` is the first live row not yet in a chunk.
        let mut next = 0;
        while next < live.len() {
            // A transaction holds at most a few dozen rows: packing a window keeps a long
            // payout's preparation linear.
            let window = &live[next..(next + WINDOW).min(live.len())];
            let plain: Vec<Row> = window.iter().map(|(_, r)| r.clone()).collect();
            let trial = Priority { micro_lamports: price, unit_limit: MAX_UNITS };
            let signed = match build::pack(&self.payer, payment, &plain, blockhash, trial) {
                Ok(mut s) => s.remove(0),
                Err(e) => {
                    out.refused.push((live[next].0, format!("Not sent: {e}.")));
                    live.remove(next);
                    continue;
                }
            };
            let simulated = match self.rpc.simulate(&signed.bytes) {
                Ok(s) => s,
                Err(e) => {
                    wait(&mut out, e.to_string());
                    break;
                }
            };
            if let Some(error) = simulated.error {
                match self.refusal(&error, &signed, &plain) {
                    Refusal::Row(k, why) => {
                        // Refused in the chunk: refused alone too, or it is not the row's doing.
                        match self.alone(payment, &plain[k], blockhash, price) {
                            Ok(None) => {
                                wait(&mut out, format!("a chunk the network refuses ({why}) though each row passes"));
                                break;
                            }
                            Ok(Some(Refusal::Row(_, why))) => {
                                out.refused.push((live[next + k].0, why));
                                live.remove(next + k);
                                continue;
                            }
                            Ok(Some(Refusal::Wallet(why) | Refusal::Other(why))) | Err(why) => {
                                wait(&mut out, why);
                                break;
                            }
                        }
                    }
                    Refusal::Wallet(why) | Refusal::Other(why) => {
                        wait(&mut out, why);
                        break;
                    }
                }
            }
            let taken = signed.rows.len();
            let priority = Priority {
                micro_lamports: price,
                unit_limit: simulated.units.map_or(MAX_UNITS, |u| ((u * 6 / 5 + 1_000) as u32).min(MAX_UNITS)),
            };
            let signed = if price > 0 {
                match build::sign(&self.payer, payment, &plain[..taken], blockhash, priority) {
                    Ok(s) => s,
                    Err(e) => {
                        wait(&mut out, e);
                        break;
                    }
                }
            } else {
                signed
            };
            // What this chunk takes from the wallet after the chunks before it.
            let chunk_rows = &plain[..taken];
            let fee = BASE_FEE + priority.lamports() * u64::from(price > 0);
            let rent = chunk_rows.iter().filter(|r| r.create_account).count() as u64 * self.account_rent;
            let moved: u64 = chunk_rows.iter().map(|r| r.amount).sum();
            let coin = fee + rent + if payment == Payment::Native { moved } else { 0 };
            let short = match payment {
                Payment::Native => lamports < coin,
                Payment::Token { .. } => lamports < coin || tokens < moved,
            };
            if short {
                wait(
                    &mut out,
                    format!(
                        "the hot wallet {} holds too little {code} or SOL for the next {taken} rows and their network \
                         fee: they wait until it is funded",
                        self.config.wallet()
                    ),
                );
                break;
            }
            lamports -= coin;
            tokens = tokens.saturating_sub(moved);
            out.chunks.push(Chunk {
                rows: live[next..next + taken].iter().map(|(n, _)| *n).collect(),
                creates: chunk_rows.iter().map(|r| r.create_account).collect(),
                signed,
            });
            next += taken;
        }
        // Decided: every row before the first live row left waiting.
        out.decided = live.get(next).map_or(wanted.len(), |(n, _)| *n);
        out.refused.retain(|(n, _)| *n < out.decided);
        out
    }

    /// Each row's recipient, or why it cannot be paid: for a token, whether its associated
    /// token account exists (else it is created, where the config allows), is frozen, or is not
    /// an account of the mint.
    fn recipients(
        &self,
        payment: Payment,
        code: &str,
        wanted: &[Wanted],
    ) -> Result<Vec<Result<Row, String>>, RpcError> {
        let owners: Vec<Option<Pubkey>> = wanted.iter().map(|w| parse(w.address)).collect();
        let Payment::Token { mint, .. } = payment else {
            return Ok(wanted
                .iter()
                .zip(&owners)
                .map(|(w, to)| match to {
                    Some(to) => Ok(Row { to: *to, amount: w.amount, create_account: false }),
                    None => Err(format!("Not sent: {} is not a Solana address.", w.address)),
                })
                .collect());
        };
        let mint = Pubkey::new_from_array(mint);
        let accounts: Vec<String> =
            owners.iter().map(|o| o.map(|o| build::token_account(&o, &mint).to_string()).unwrap_or_default()).collect();
        let refs: Vec<&str> = accounts.iter().map(String::as_str).filter(|a| !a.is_empty()).collect();
        let mut found = self.rpc.accounts(&refs)?.into_iter();
        let mut rows = Vec::with_capacity(wanted.len());
        for (w, owner) in wanted.iter().zip(&owners) {
            let Some(owner) = owner else {
                rows.push(Err(format!("Not sent: {} is not a Solana address.", w.address)));
                continue;
            };
            // Whether an existing account can take the tokens is the simulation's to say.
            let create_account = found.next().flatten().is_none();
            rows.push(if create_account && !self.config.create_token_accounts {
                Err(format!(
                    "Not sent: the recipient has no {code} token account, and this rail does not create them \
                     (create_token_accounts is off in its chain config)."
                ))
            } else if create_account && !w.may_create {
                Err(format!(
                    "Not sent: the recipient has no {code} token account, and your organization does not create \
                     them (Settings → Assets)."
                ))
            } else {
                Ok(Row { to: *owner, amount: w.amount, create_account })
            });
        }
        Ok(rows)
    }

    /// The wallet's lamports, and its tokens of the mint (0 for SOL); an error when its token
    /// account cannot send (frozen by the issuer), which no row is to blame for.
    fn holdings(&self, payment: Payment) -> Result<(u64, u64), String> {
        let lamports = self.rpc.balance(&self.config.wallet()).map_err(|e| e.to_string())?;
        let Payment::Token { mint, .. } = payment else { return Ok((lamports, 0)) };
        let own = build::token_account(&self.payer_key(), &Pubkey::new_from_array(mint)).to_string();
        let account = self.rpc.accounts(&[&own]).map_err(|e| e.to_string())?.pop().flatten();
        let Some(account) = account else { return Ok((lamports, 0)) };
        if account.data.len() >= TOKEN_ACCOUNT_BYTES && account.data[108] == FROZEN {
            return Err(format!(
                "the hot wallet's token account {own} is frozen by the token's issuer: nothing can be sent"
            ));
        }
        let tokens = account.data.get(64..72).and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_le_bytes);
        Ok((lamports, tokens))
    }

    /// The row alone in a transaction: None when the network takes it.
    fn alone(&self, payment: Payment, row: &Row, blockhash: Hash, price: u64) -> Result<Option<Refusal>, String> {
        let priority = Priority { micro_lamports: price, unit_limit: MAX_UNITS };
        let signed = build::sign(&self.payer, payment, std::slice::from_ref(row), blockhash, priority)?;
        let simulated = self.rpc.simulate(&signed.bytes).map_err(|e| e.to_string())?;
        Ok(simulated.error.map(|e| self.refusal(&e, &signed, std::slice::from_ref(row))))
    }

    fn refusal(&self, error: &Value, signed: &Signed, rows: &[Row]) -> Refusal {
        let wallet_short = || {
            Refusal::Wallet(format!(
                "the hot wallet {} holds too little for these rows and their network fee: they wait until it is \
                 funded",
                self.config.wallet()
            ))
        };
        if let Some(what) = error.as_str() {
            return match what {
                "InsufficientFundsForFee" | "AccountNotFound" => wallet_short(),
                other => Refusal::Other(format!("the Solana node refuses the transaction: {other}")),
            };
        }
        if let Some(index) = error.pointer("/InsufficientFundsForRent/account_index").and_then(Value::as_u64) {
            let decoded: Option<Transaction> = bincode::deserialize(&signed.bytes).ok();
            let key = decoded.and_then(|t| t.message.account_keys.get(index as usize).copied());
            if key == Some(self.payer_key()) {
                return wallet_short();
            }
            if let Some(k) = rows.iter().take(signed.rows.len()).position(|r| Some(r.to) == key) {
                return Refusal::Row(
                    k,
                    "Refused by the Solana network before anything was sent: the amount is less than a new account \
                     must hold (its rent-exempt minimum, about 0.00089 SOL)."
                        .into(),
                );
            }
            return Refusal::Other(format!("the Solana node refuses the transaction: {error}"));
        }
        if let Some([index, detail]) = error.get("InstructionError").and_then(Value::as_array).map(Vec::as_slice) {
            // Custom error 1 is "insufficient funds" in the System and Token programs alike.
            if custom(detail) == Some(1) {
                return wallet_short();
            }
            if let Some(k) = index.as_u64().and_then(|i| build::row_of_instruction(signed, i as u32)) {
                let creates = rows.get(k).is_some_and(|r| r.create_account);
                if let Some(why) = row_reason(detail, creates) {
                    return Refusal::Row(k, why);
                }
            }
        }
        Refusal::Other(format!("the Solana node refuses the transaction: {error}"))
    }
}

/// A base58 Solana address as a key.
pub(super) fn parse(address: &str) -> Option<Pubkey> {
    let bytes: [u8; 32] = bs58::decode(address).into_vec().ok()?.try_into().ok()?;
    Some(Pubkey::new_from_array(bytes))
}

/// Whether the owner's token account must be created (true when there is none), or why it
/// cannot be paid.
pub(super) fn token_account_state(account: Option<&Account>, mint: &Pubkey, owner: &Pubkey) -> Result<bool, String> {
    let Some(account) = account else { return Ok(true) };
    let token = spl_token_interface::id().to_string();
    if account.owner != token || account.data.len() < TOKEN_ACCOUNT_BYTES {
        return Err("an account of another program sits at the recipient's token account address".into());
    }
    if account.data[..32] != mint.to_bytes() || account.data[32..64] != owner.to_bytes() {
        return Err("the recipient's token account address holds an account of another token or owner".into());
    }
    if account.data[108] == FROZEN {
        return Err("the recipient's token account is frozen by the token's issuer".into());
    }
    Ok(false)
}
