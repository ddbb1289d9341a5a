//! Balance arithmetic: available + reserved + paid = everything deposited. Money only moves
//! between buckets, and no bucket goes below zero.

use super::asset::Asset;
use super::money::Amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Outside the organization's balance: where deposits come from.
    External,
    Available,
    Reserved,
    Paid,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::External => "external",
            Bucket::Available => "available",
            Bucket::Reserved => "reserved",
            Bucket::Paid => "paid",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Funds arrive: external → available.
    Deposit,
    /// A confirmed payout holds amount + fee: available → reserved.
    Reserve,
    /// A cancelled, rejected or failed payout gives it back: reserved → available.
    Release,
    /// A completed payout: reserved → paid.
    Settle,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Deposit => "deposit",
            Movement::Reserve => "reserve",
            Movement::Release => "release",
            Movement::Settle => "settle",
        }
    }

    pub fn buckets(self) -> (Bucket, Bucket) {
        match self {
            Movement::Deposit => (Bucket::External, Bucket::Available),
            Movement::Reserve => (Bucket::Available, Bucket::Reserved),
            Movement::Release => (Bucket::Reserved, Bucket::Available),
            Movement::Settle => (Bucket::Reserved, Bucket::Paid),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LedgerError {
    #[error("Insufficient {bucket} balance: {needed} {asset} needed, {has} {asset} {bucket}.", asset = .has.asset().code)]
    Insufficient { bucket: &'static str, has: Amount, needed: Amount },
    #[error("The amount must be greater than zero.")]
    NotPositive,
    #[error("The amount is of another asset.")]
    WrongAsset,
    #[error("The balance would exceed what can be represented.")]
    Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Balance {
    pub available: Amount,
    pub reserved: Amount,
    pub paid: Amount,
}

impl Balance {
    pub fn zero(asset: &'static Asset) -> Balance {
        Balance { available: Amount::zero(asset), reserved: Amount::zero(asset), paid: Amount::zero(asset) }
    }

    pub fn asset(&self) -> &'static Asset {
        self.available.asset()
    }

    /// Everything that came in: available + reserved + paid.
    pub fn funded(&self) -> Option<Amount> {
        self.available.checked_add(self.reserved)?.checked_add(self.paid)
    }

    /// The balance after moving `amount` as `movement` says, or why it cannot move.
    pub fn apply(&self, movement: Movement, amount: Amount) -> Result<Balance, LedgerError> {
        if amount.asset().code != self.asset().code {
            return Err(LedgerError::WrongAsset);
        }
        if amount.is_zero() || amount.is_negative() {
            return Err(LedgerError::NotPositive);
        }
        let (from, to) = movement.buckets();
        let mut next = *self;
        if let Some(bucket) = next.bucket_mut(from) {
            if *bucket < amount {
                return Err(LedgerError::Insufficient { bucket: from.as_str(), has: *bucket, needed: amount });
            }
            *bucket = bucket.checked_sub(amount).ok_or(LedgerError::Overflow)?;
        }
        if let Some(bucket) = next.bucket_mut(to) {
            *bucket = bucket.checked_add(amount).ok_or(LedgerError::Overflow)?;
        }
        Ok(next)
    }

    fn bucket_mut(&mut self, bucket: Bucket) -> Option<&mut Amount> {
        match bucket {
            Bucket::External => None,
            Bucket::Available => Some(&mut self.available),
            Bucket::Reserved => Some(&mut self.reserved),
            Bucket::Paid => Some(&mut self.paid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::asset::find;
    use proptest::prelude::*;

    fn amt(s: &str) -> Amount {
        Amount::parse(find("USDT_TRC20").unwrap(), s).unwrap()
    }

    #[test]
    fn reserve_needs_available_funds() {
        let b = Balance::zero(find("USDT_TRC20").unwrap()).apply(Movement::Deposit, amt("100")).unwrap();
        let err = b.apply(Movement::Reserve, amt("100.5")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Insufficient available balance: 100.5 USDT_TRC20 needed, 100 USDT_TRC20 available."
        );
        let b = b.apply(Movement::Reserve, amt("60")).unwrap();
        assert_eq!((b.available, b.reserved), (amt("40"), amt("60")));
        let b = b.apply(Movement::Settle, amt("50")).unwrap().apply(Movement::Release, amt("10")).unwrap();
        assert_eq!((b.available, b.reserved, b.paid), (amt("50"), Amount::zero(b.asset()), amt("50")));
    }

    #[test]
    fn other_assets_and_non_positive_amounts_are_refused() {
        let b = Balance::zero(find("USDT_TRC20").unwrap());
        let btc = Amount::parse(find("BTC").unwrap(), "1").unwrap();
        assert_eq!(b.apply(Movement::Deposit, btc), Err(LedgerError::WrongAsset));
        assert_eq!(b.apply(Movement::Deposit, Amount::zero(b.asset())), Err(LedgerError::NotPositive));
    }

    proptest! {
        #[test]
        fn buckets_never_go_negative_and_always_add_up(steps in proptest::collection::vec((0u8..4, 1i128..1_000_000_000), 0..200)) {
            let asset = find("USDT_TRC20").unwrap();
            let mut balance = Balance::zero(asset);
            let mut deposited = 0i128;
            for (kind, minor) in steps {
                let movement = [Movement::Deposit, Movement::Reserve, Movement::Release, Movement::Settle][kind as usize];
                if let Ok(next) = balance.apply(movement, Amount::from_minor(asset, minor)) {
                    if movement == Movement::Deposit {
                        deposited += minor;
                    }
                    balance = next;
                }
                prop_assert!(!balance.available.is_negative() && !balance.reserved.is_negative() && !balance.paid.is_negative());
                prop_assert_eq!(balance.funded().unwrap().minor(), deposited);
            }
        }
    }
}
