//! Following stored transactions by their signatures: one question to the node for all of them
//! (history searched), then for each: landed at the configured commitment (its fee shared by its
//! rows, each created account's rent on its row), failed on chain, still waiting, or unseen —
//! sent again while its blockhash is valid, and signed anew only once the finalized chain is past
//! its last valid height and the signature is still unknown, so that two versions are never live.

use std::collections::HashMap;

use base64::Engine;
use solana_pubkey::Pubkey;

use super::build;
use super::config::{Commitment, Payment};
use super::prepare::{Wanted, parse};
use super::rail::{SolanaRail, unavailable};
use super::rpc::Status;
use crate::db::solana::{RowPlace, SolanaRowRow, SolanaTxRow};
use crate::db::{self};
use crate::domain::asset;
use crate::rails::{RailError, RailTx, TxState};

type Answer = Result<Option<RailTx>, RailError>;

fn failed(reason: String) -> RailTx {
    RailTx { tx_hash: String::new(), state: TxState::Failed { reason }, log_index: None, vout: None, instruction: None }
}

impl SolanaRail {
    pub(super) fn follow_many(&self, keys: &[&str]) -> Vec<Answer> {
        let stored = self.pool.get().map_err(unavailable).and_then(|mut conn| {
            let rows = db::solana::rows_of(&mut conn, keys).map_err(unavailable)?;
            let mut tx_keys: Vec<&str> = rows.iter().map(|r| r.tx_key.as_str()).collect();
            tx_keys.sort_unstable();
            tx_keys.dedup();
            let txs = db::solana::find_many(&mut conn, &tx_keys).map_err(unavailable)?;
            let mut all = Vec::with_capacity(txs.len());
            for tx in txs {
                let rows = db::solana::rows_in(&mut conn, &tx.tx_key).map_err(unavailable)?;
                all.push((tx, rows));
            }
            Ok(all)
        });
        let txs = match stored {
            Ok(found) => found,
            Err(e) => return keys.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut answers: HashMap<String, Answer> = HashMap::new();
        let signatures: Vec<&str> = txs.iter().map(|(t, _)| t.signature.as_str()).collect();
        let statuses = if signatures.is_empty() { Ok(Vec::new()) } else { self.rpc.statuses(&signatures) };
        match statuses {
            Err(e) => {
                for (_, rows) in &txs {
                    for row in rows {
                        answers.insert(row.idempotency_key.clone(), Err(unavailable(&e)));
                    }
                }
            }
            Ok(statuses) => {
                for ((tx, rows), status) in txs.iter().zip(statuses) {
                    match self.follow(tx, rows, status) {
                        Ok(each) => answers.extend(each.into_iter().map(|(k, a)| (k, Ok(Some(a))))),
                        Err(e) => {
                            tracing::warn!(signature = %tx.signature, error = %e, "could not follow a stored transaction");
                            for row in rows {
                                answers.insert(row.idempotency_key.clone(), Err(e.clone()));
                            }
                        }
                    }
                }
            }
        }
        keys.iter().map(|k| answers.remove(*k).unwrap_or(Ok(None))).collect()
    }

    /// Each row's answer for one stored transaction.
    fn follow(
        &self,
        tx: &SolanaTxRow,
        rows: &[SolanaRowRow],
        status: Option<Status>,
    ) -> Result<Vec<(String, RailTx)>, RailError> {
        let mut out: Vec<(String, RailTx)> = rows
            .iter()
            .filter_map(|r| r.failed.as_ref().map(|why| (r.idempotency_key.clone(), failed(why.clone()))))
            .collect();
        let live: Vec<&SolanaRowRow> = rows.iter().filter(|r| r.failed.is_none()).collect();
        if live.is_empty() {
            return Ok(out);
        }
        let answer = |state: TxState, row: &SolanaRowRow| RailTx {
            tx_hash: tx.signature.clone(),
            state,
            log_index: None,
            vout: None,
            instruction: row.instruction_index.map(|n| n as u32),
        };
        let Some(status) = status else {
            if let Some((tx, rows)) = self.unseen(tx, rows)? {
                // Signed anew: its rows as they are now, in the new version or left out.
                return Ok(rows
                    .iter()
                    .map(|r| {
                        let state = match &r.failed {
                            Some(why) => return (r.idempotency_key.clone(), failed(why.clone())),
                            None => TxState::Pending { confirmations: 0 },
                        };
                        let instruction = r.instruction_index.map(|n| n as u32);
                        let tx_hash = tx.signature.clone();
                        (r.idempotency_key.clone(), RailTx { tx_hash, state, log_index: None, vout: None, instruction })
                    })
                    .collect());
            }
            out.extend(
                live.iter().map(|r| (r.idempotency_key.clone(), answer(TxState::Pending { confirmations: 0 }, r))),
            );
            return Ok(out);
        };
        let landed = status.confirmation == "finalized"
            || (self.config.commitment == Commitment::Confirmed && status.confirmation == "confirmed");
        // A failure is final only at the commitment too: a block dropped with its fork may
        // carry the transaction into another where it succeeds.
        if let (true, Some(error)) = (landed, &status.error) {
            let reason = format!(
                "The transaction failed on the Solana network ({error}): nothing was paid; the network kept its fee."
            );
            out.extend(
                live.iter().map(|r| (r.idempotency_key.clone(), answer(TxState::Failed { reason: reason.clone() }, r))),
            );
            return Ok(out);
        }
        let depth = || -> Result<u32, RailError> {
            let now = self.rpc.slot(self.config.commitment).map_err(unavailable)?;
            Ok((now.saturating_sub(status.slot) + 1).min(u64::from(u32::MAX)) as u32)
        };
        if !landed {
            let confirmations = status.confirmations.unwrap_or(0).min(u64::from(u32::MAX)) as u32;
            out.extend(live.iter().map(|r| (r.idempotency_key.clone(), answer(TxState::Pending { confirmations }, r))));
            return Ok(out);
        }
        let meta =
            self.rpc.landed(&tx.signature, self.config.commitment).map_err(unavailable)?.ok_or_else(|| {
                unavailable(format!("transaction {} landed but the node cannot show it", tx.signature))
            })?;
        let confirmations = depth()?;
        // The fee shared by the live rows (what does not divide on the first), plus the rent of
        // the token account each row created.
        let n = live.len() as u64;
        let mint = self.mint_of(&tx.asset);
        for (k, row) in live.iter().enumerate() {
            let mut lamports = meta.fee / n + if k == 0 { meta.fee % n } else { 0 };
            if let (true, Some(mint), Some(owner)) = (row.creates_account, mint, parse(&row.address)) {
                lamports += meta.gained(&build::token_account(&owner, &mint).to_string());
            }
            let state = TxState::Confirmed { confirmations, network_fee: Some(Self::sol(lamports)) };
            out.push((row.idempotency_key.clone(), answer(state, row)));
        }
        Ok(out)
    }

    fn mint_of(&self, code: &str) -> Option<Pubkey> {
        let asset = asset::find(code)?;
        match self.payment(asset)? {
            Payment::Token { mint, .. } => Some(Pubkey::new_from_array(mint)),
            Payment::Native => None,
        }
    }

    /// A stored transaction the network has no record of: the same bytes sent again while its
    /// blockhash is valid; once the finalized chain is past its last valid height it can never
    /// land, and the chunk is signed anew in its place. Returns the transaction and its rows as
    /// stored now when they changed (signed anew here or by another processor).
    fn unseen(
        &self,
        tx: &SolanaTxRow,
        rows: &[SolanaRowRow],
    ) -> Result<Option<(SolanaTxRow, Vec<SolanaRowRow>)>, RailError> {
        let height = self.rpc.block_height(Commitment::Finalized).map_err(unavailable)?;
        if height <= tx.last_valid_height as u64 {
            let bytes = base64::engine::general_purpose::STANDARD.decode(&tx.raw_tx).map_err(unavailable)?;
            if let Err(e) = self.rpc.send(&bytes) {
                tracing::warn!(signature = %tx.signature, error = %e, "sending a stored transaction again failed");
            }
            return Ok(None);
        }
        // Asked again now that the height is known past: a transaction that landed in the last
        // valid blocks is seen here, or it can never land.
        if self.rpc.statuses(&[&tx.signature]).map_err(unavailable)?.pop().flatten().is_some() {
            return Ok(None);
        }
        self.resign(tx, rows)?;
        let mut conn = self.pool.get().map_err(unavailable)?;
        let now = db::solana::find_many(&mut conn, &[&tx.tx_key]).map_err(unavailable)?.pop();
        let now = now.ok_or_else(|| unavailable(format!("transaction {} is no longer stored", tx.tx_key)))?;
        let rows = db::solana::rows_in(&mut conn, &tx.tx_key).map_err(unavailable)?;
        Ok((now.version != tx.version).then_some((now, rows)))
    }

    /// Signs the chunk's rows anew (each prepared again: a row refused alone now is left out)
    /// in the place of the expired version, compared and swapped on its signature; sends it.
    fn resign(&self, tx: &SolanaTxRow, rows: &[SolanaRowRow]) -> Result<(), RailError> {
        let asset = asset::find(&tx.asset).ok_or_else(|| unavailable(format!("unknown asset {}", tx.asset)))?;
        let payment = self.payment(asset).ok_or_else(|| unavailable(format!("{} is not paid here", tx.asset)))?;
        let live: Vec<&SolanaRowRow> = rows.iter().filter(|r| r.failed.is_none()).collect();
        // A row signed before with its account to create may still create it.
        let wanted: Vec<Wanted> = live
            .iter()
            .map(|r| Wanted { address: &r.address, amount: r.amount as u64, may_create: r.creates_account })
            .collect();
        let (blockhash, last_valid) = self.rpc.latest_blockhash(Commitment::Confirmed).map_err(unavailable)?;
        let mut prepared = self.prepare(payment, asset.code, &wanted, blockhash, self.priority_price());
        if prepared.chunks.len() > 1 {
            // Signed first without a priority fee, the rows fit without one now.
            prepared = self.prepare(payment, asset.code, &wanted, blockhash, 0);
        }
        if let Some(why) = prepared.waiting {
            return Err(unavailable(format!(
                "transaction {} expired unsent; signing it anew waits: {why}",
                tx.signature
            )));
        }
        if prepared.chunks.len() > 1 {
            return Err(unavailable(format!(
                "transaction {} expired unsent and its rows no longer fit in one transaction",
                tx.signature
            )));
        }
        let mut places: Vec<RowPlace> = live
            .iter()
            .map(|r| RowPlace { key: r.idempotency_key.clone(), instruction_index: None, failed: None })
            .collect();
        for (n, why) in prepared.refused {
            places[n].failed = Some(why);
        }
        let new = prepared.chunks.first().map(|chunk| {
            for (k, row) in chunk.rows.iter().enumerate() {
                places[*row].instruction_index = Some(chunk.signed.instruction_index[k] as i32);
            }
            SolanaTxRow {
                signature: chunk.signed.signature.clone(),
                raw_tx: base64::engine::general_purpose::STANDARD.encode(&chunk.signed.bytes),
                last_valid_height: last_valid as i64,
                ..tx.clone()
            }
        });
        let swapped = {
            let mut conn = self.pool.get().map_err(unavailable)?;
            db::solana::resign(&mut conn, tx, new.as_ref(), &places, self.clock.now()).map_err(unavailable)?
        };
        let Some(new) = new.filter(|_| swapped) else { return Ok(()) };
        tracing::info!(expired = %tx.signature, signature = %new.signature, "a transaction expired unsent was signed anew");
        if let Some(chunk) = prepared.chunks.first()
            && let Err(e) = self.rpc.send(&chunk.signed.bytes)
        {
            tracing::warn!(signature = %new.signature, error = %e, "send failed; it will be retried by look-up");
        }
        Ok(())
    }
}
