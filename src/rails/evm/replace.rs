//! Stuck transactions: one priced under a base fee that rose after it was signed waits in the
//! node's pool forever. After `replace_after_seconds` it is signed again with the same nonce and
//! content and a fee raised by 12.5 % (nodes refuse a replacement raised by less than 10 %, some
//! by less than 12.5 %), never above the configured cap. The stored version is swapped with a
//! compare-and-swap before the new bytes are broadcast, and every earlier version is kept: the
//! nonce can be mined only once, so whichever version is mined is what happened. A manager's
//! cancellation of a pending row is the same replacement with an empty transfer to the wallet
//! itself.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::primitives::{Bytes, TxKind};

use super::{EvmRail, unavailable};
use crate::db::{self, evm::EvmTxRow};
use crate::rails::RailError;

/// A fee raised by an eighth, and at least by one wei.
fn bumped(fee: u128) -> u128 {
    fee.saturating_add(fee / 8).saturating_add(1)
}

/// The (max fee, tip) of a replacement for a transaction priced (`max_fee`, `tip`) while the
/// base fee is `base`: None when the cap leaves no room for the raise nodes require.
pub(super) fn replacement_fees(max_fee: u128, tip: u128, base: u128, cap: u128) -> Option<(u128, u128)> {
    let tip = bumped(tip);
    let wanted = bumped(max_fee).max(base.saturating_mul(2).saturating_add(tip));
    let max_fee_new = wanted.min(cap);
    (max_fee_new >= bumped(max_fee) && tip <= max_fee_new).then_some((max_fee_new, tip))
}

fn decode(raw: &str) -> Option<TxEip1559> {
    let raw: Bytes = raw.parse().ok()?;
    match TxEnvelope::decode_2718(&mut raw.as_ref()) {
        Ok(TxEnvelope::Eip1559(signed)) => Some(signed.tx().clone()),
        _ => None,
    }
}

impl EvmRail {
    /// Whether a signed version is a cancellation: nothing sent to the wallet itself. No row pays
    /// nothing, so no payment looks like this.
    pub(super) fn is_cancellation(&self, raw: &str) -> bool {
        decode(raw).is_some_and(|tx| tx.to == TxKind::Call(self.wallet()) && tx.value.is_zero() && tx.input.is_empty())
    }

    /// The hash of the version that stands after replacing a pending `row` when a manager asked
    /// to cancel it or it is stuck.
    pub(super) fn replace_if_due(&self, row: &EvmTxRow) -> Result<String, RailError> {
        let newer = if row.cancel_requested_at.is_some() && !self.is_cancellation(&row.raw_tx) {
            self.cancel(row)?
        } else {
            self.replace_if_stuck(row)?
        };
        Ok(newer.unwrap_or_else(|| row.tx_hash.clone()))
    }

    /// Replaces `row` when it has waited longer than configured and the base fee is above what
    /// it may pay; returns the replacement's hash.
    pub(super) fn replace_if_stuck(&self, row: &EvmTxRow) -> Result<Option<String>, RailError> {
        if self.clock.now() - row.created_at < self.config.replace_after {
            return Ok(None);
        }
        let Some(tx) = decode(&row.raw_tx) else { return Ok(None) };
        let (base, _) = self.rpc.fees().map_err(unavailable)?;
        if base <= tx.max_fee_per_gas {
            return Ok(None);
        }
        self.resign(row, tx, base)
    }

    /// A manager's cancellation of a pending transaction: an empty transfer to the wallet itself
    /// with the same nonce and a raised fee. Whichever of the two is mined decides.
    pub(super) fn cancel(&self, row: &EvmTxRow) -> Result<Option<String>, RailError> {
        let Some(mut tx) = decode(&row.raw_tx) else { return Ok(None) };
        let (base, _) = self.rpc.fees().map_err(unavailable)?;
        tx.to = TxKind::Call(self.wallet());
        tx.value = alloy::primitives::U256::ZERO;
        tx.input = Bytes::new();
        tx.gas_limit = 21_000;
        self.resign(row, tx, base)
    }

    /// Signs `tx` again with fees raised as nodes require of a replacement and puts it in the
    /// stored version's place (compare-and-swap), then broadcasts it.
    fn resign(&self, row: &EvmTxRow, mut tx: TxEip1559, base: u128) -> Result<Option<String>, RailError> {
        let Some((max_fee, tip)) =
            replacement_fees(tx.max_fee_per_gas, tx.max_priority_fee_per_gas, base, self.config.max_fee_per_gas)
        else {
            tracing::warn!(
                tx = %row.tx_hash,
                base_gwei = base / 1_000_000_000,
                "a transaction cannot be replaced: the fee cap leaves no room for the raise nodes require; waiting"
            );
            return Ok(None);
        };
        tx.max_fee_per_gas = max_fee;
        tx.max_priority_fee_per_gas = tip;
        let signature = self.config.signer.sign_hash(&tx.signature_hash()).map_err(unavailable)?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let (hash, raw) = (format!("{:#x}", envelope.tx_hash()), format!("0x{}", hex::encode(envelope.encoded_2718())));
        let now = self.clock.now();
        let mut conn = self.pool.get().map_err(unavailable)?;
        let swapped = db::write_tx(&mut conn, |c| db::evm::replace(c, row, &hash, &raw, now)).map_err(unavailable)?;
        drop(conn);
        if !swapped {
            // Another processor replaced it first; the next look-up reads its version.
            return Ok(None);
        }
        tracing::info!(old = %row.tx_hash, new = %hash, nonce = row.nonce, max_fee_gwei = max_fee / 1_000_000_000, "pending transaction replaced");
        let stored = EvmTxRow { tx_hash: hash.clone(), raw_tx: raw, created_at: now, ..row.clone() };
        if let Err(e) = self.broadcast(&stored) {
            tracing::warn!(tx = %hash, error = %e, "broadcasting the replacement failed; it will be retried by look-up");
        }
        Ok(Some(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::replacement_fees;

    const GWEI: u128 = 1_000_000_000;

    #[test]
    fn a_replacement_pays_at_least_an_eighth_more_and_never_above_the_cap() {
        let (max_fee, tip) = replacement_fees(3 * GWEI, GWEI, 50 * GWEI, 500 * GWEI).unwrap();
        assert_eq!(max_fee, 2 * 50 * GWEI + tip, "twice the base fee that priced it out");
        assert!(tip > GWEI + GWEI / 10, "the tip is raised too");
        let (capped, _) = replacement_fees(3 * GWEI, GWEI, 50 * GWEI, 60 * GWEI).unwrap();
        assert_eq!(capped, 60 * GWEI);
        let (small, _) = replacement_fees(100 * GWEI, GWEI, 101 * GWEI, 500 * GWEI).unwrap();
        assert!(small >= 100 * GWEI + 100 * GWEI / 8, "at least 12.5 % more: {small}");
        assert_eq!(replacement_fees(100 * GWEI, GWEI, 200 * GWEI, 110 * GWEI), None, "no room under the cap");
    }
}
