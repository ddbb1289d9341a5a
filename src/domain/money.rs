//! Exact amounts of an asset.
//!
//! An amount is a whole number of the asset's smallest unit (satoshi, wei, sun) in an `i128`,
//! beside the asset that says how many decimals it has. rust_decimal's 96-bit mantissa holds 28
//! significant digits, which is not enough for an 18-decimal token above 10^10 whole units; i128
//! holds 38, so every amount up to 10^15 whole units of an 18-decimal asset, and any sum of
//! them that fits, is exact. Rates (fee percentages) stay `rust_decimal::Decimal`.

use std::cmp::Ordering;
use std::fmt;

use super::asset::Asset;

/// Whole-unit digits an amount may have: anything below 10^15 units of any asset.
pub const MAX_WHOLE_DIGITS: usize = 15;

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    minor: i128,
    asset: &'static Asset,
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self, self.asset.code)
    }
}

fn pow10(exp: u32) -> i128 {
    10i128.pow(exp)
}

/// More characters than the largest amount of any asset takes to write (39 digits and a dot).
pub const MAX_AMOUNT_CHARS: usize = 64;

impl Amount {
    pub fn zero(asset: &'static Asset) -> Amount {
        Amount { minor: 0, asset }
    }

    /// From a count of the asset's smallest unit.
    pub fn from_minor(asset: &'static Asset, minor: i128) -> Amount {
        Amount { minor, asset }
    }

    pub fn minor(&self) -> i128 {
        self.minor
    }

    pub fn asset(&self) -> &'static Asset {
        self.asset
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// A payout amount as a person typed it: plain digits with an optional dot and at most the
    /// asset's decimals, greater than zero. Surrounding spaces are ignored.
    pub fn parse(asset: &'static Asset, input: &str) -> Result<Amount, String> {
        let amount = Self::parse_non_negative(asset, input)?;
        if amount.is_zero() {
            return Err("Amount must be greater than zero.".into());
        }
        Ok(amount)
    }

    /// Like [`Amount::parse`] but zero is allowed (balances, fee settings).
    pub fn parse_non_negative(asset: &'static Asset, input: &str) -> Result<Amount, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Enter an amount.".into());
        }
        if s.len() > MAX_AMOUNT_CHARS {
            return Err(format!("An amount has at most {MAX_AMOUNT_CHARS} characters; check what was pasted."));
        }
        if s.starts_with('-') {
            return Err("Amount must be greater than zero; write it without a minus sign.".into());
        }
        if s.starts_with('+') {
            return Err("Write the amount without a plus sign.".into());
        }
        if s.contains(['e', 'E']) && s.chars().all(|c| c.is_ascii_digit() || "eE.+-".contains(c)) {
            return Err("Write the number out in full: scientific notation such as 1e-5 is not accepted.".into());
        }
        if s.contains(',') {
            return Err(if s.contains('.') {
                "Remove the thousands separators: write 1234.56, not 1,234.56.".into()
            } else {
                format!("Use a dot as the decimal mark: write {}, not {s}.", s.replace(',', "."))
            });
        }
        if s.chars().any(char::is_whitespace) {
            return Err("An amount cannot contain spaces: write 1234.56, not 1 234.56.".into());
        }
        if let Some(bad) = s.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
            return Err(format!("An amount may contain only digits and one dot; `{bad}` is not allowed."));
        }
        let (whole, fraction) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        if let Some(f) = fraction {
            if f.contains('.') {
                return Err("An amount has at most one dot.".into());
            }
            if whole.is_empty() {
                return Err(format!("Write a digit before the dot: 0{s}."));
            }
            if f.is_empty() {
                return Err("Write digits after the dot, or leave the dot out.".into());
            }
        }
        let fraction = fraction.unwrap_or("");
        // Zeros beyond the asset's decimals change nothing and are accepted; any other digit
        // there would have to be rounded away.
        let significant = fraction.trim_end_matches('0');
        if significant.len() > asset.decimals as usize {
            return Err(format!("{} allows at most {} decimal places.", asset.code, asset.decimals));
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > MAX_WHOLE_DIGITS {
            return Err(format!("Amount is too large: at most {MAX_WHOLE_DIGITS} digits before the dot."));
        }
        let whole_value: i128 =
            if whole.is_empty() { 0 } else { whole.parse().map_err(|_| "Amount is not a number.")? };
        let frac_value: i128 =
            if significant.is_empty() { 0 } else { significant.parse().map_err(|_| "Amount is not a number.")? };
        let frac_minor = frac_value * pow10(asset.decimals - significant.len() as u32);
        Ok(Amount { minor: whole_value * pow10(asset.decimals) + frac_minor, asset })
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.same_asset(&other)?;
        self.minor.checked_add(other.minor).map(|minor| Amount { minor, asset: self.asset })
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.same_asset(&other)?;
        self.minor.checked_sub(other.minor).map(|minor| Amount { minor, asset: self.asset })
    }

    fn same_asset(&self, other: &Amount) -> Option<()> {
        (self.asset.code == other.asset.code).then_some(())
    }

    /// The sum of amounts of one asset; None when an amount is of another asset or the sum
    /// overflows.
    pub fn sum<'a>(asset: &'static Asset, amounts: impl IntoIterator<Item = &'a Amount>) -> Option<Amount> {
        amounts.into_iter().try_fold(Amount::zero(asset), |acc, a| acc.checked_add(*a))
    }

    /// The one way pages, the ledger and the audit log write an amount: `1,234.5 USDT_TRC20`.
    pub fn money(&self) -> String {
        format!("{} {}", self.grouped(), self.asset.code)
    }

    /// With thousands separators, for pages: `12,345.67`.
    pub fn grouped(&self) -> String {
        let plain = self.to_string();
        let (sign, rest) = plain.strip_prefix('-').map_or(("", plain.as_str()), |r| ("-", r));
        let (whole, fraction) = rest.split_once('.').map_or((rest, None), |(w, f)| (w, Some(f)));
        let mut grouped = String::with_capacity(plain.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        match fraction {
            Some(f) => format!("{sign}{grouped}.{f}"),
            None => format!("{sign}{grouped}"),
        }
    }
}

impl PartialOrd for Amount {
    /// Amounts of different assets are not comparable.
    fn partial_cmp(&self, other: &Amount) -> Option<Ordering> {
        self.same_asset(other)?;
        Some(self.minor.cmp(&other.minor))
    }
}

/// The canonical form: no trailing zeros, no dot for whole amounts (`12.5`, `1`, `0.00000001`).
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = pow10(self.asset.decimals);
        let abs = self.minor.unsigned_abs();
        let whole = abs / scale as u128;
        let frac = abs % scale as u128;
        if self.minor < 0 {
            f.write_str("-")?;
        }
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:0width$}", width = self.asset.decimals as usize);
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::asset::find;
    use proptest::prelude::*;

    fn asset(code: &str) -> &'static Asset {
        find(code).unwrap()
    }

    #[test]
    fn plain_amounts_parse_exactly() {
        let usdt = asset("USDT_TRC20");
        assert_eq!(Amount::parse(usdt, "12.5").unwrap().minor(), 12_500_000);
        assert_eq!(Amount::parse(usdt, " 0.000001 ").unwrap().minor(), 1);
        assert_eq!(Amount::parse(usdt, "007").unwrap().to_string(), "7");
        assert_eq!(Amount::parse(usdt, "1.500000000").unwrap().to_string(), "1.5", "zeros beyond 6 places");
    }

    #[test]
    fn eighteen_decimals_up_to_a_trillion_are_exact() {
        let eth = asset("ETH");
        for s in ["1000000000000.000000000000000001", "999999999999999.999999999999999999", "0.000000000000000001"] {
            assert_eq!(Amount::parse(eth, s).unwrap().to_string(), s);
        }
        let a = Amount::parse(eth, "1000000000000.000000000000000001").unwrap();
        assert_eq!(a.minor(), 1_000_000_000_000_000_000_000_000_000_001);
    }

    #[test]
    fn bad_amounts_say_what_is_wrong() {
        let usdt = asset("USDT_TRC20");
        let cases = [
            ("", "Enter an amount"),
            ("0", "greater than zero"),
            ("0.000", "greater than zero"),
            ("-5", "minus sign"),
            ("+5", "plus sign"),
            ("1e5", "scientific notation"),
            ("1E-5", "scientific notation"),
            ("12,5", "write 12.5"),
            ("1,234.56", "thousands separators"),
            ("1 000", "spaces"),
            ("NaN", "only digits"),
            ("inf", "only digits"),
            ("$12", "only digits"),
            ("1.2.3", "at most one dot"),
            (".5", "digit before the dot"),
            ("5.", "digits after the dot"),
            ("1.0000001", "USDT_TRC20 allows at most 6 decimal places"),
            ("１２", "only digits"),
            ("1234567890123456", "too large"),
        ];
        for (input, expected) in cases {
            let err = Amount::parse(usdt, input).unwrap_err();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn sums_refuse_mixed_assets() {
        let a = Amount::parse(asset("BTC"), "1").unwrap();
        let b = Amount::parse(asset("LTC"), "1").unwrap();
        assert!(a.checked_add(b).is_none());
        assert!(a.partial_cmp(&b).is_none());
        assert_eq!(Amount::sum(asset("BTC"), &[a, a]).unwrap().to_string(), "2");
    }

    #[test]
    fn grouping_for_display() {
        let usdt = asset("USDT_ERC20");
        assert_eq!(Amount::parse(usdt, "1234567.5").unwrap().grouped(), "1,234,567.5");
        assert_eq!(Amount::parse(usdt, "123").unwrap().grouped(), "123");
        assert_eq!(Amount::from_minor(usdt, -1_234_000_000).grouped(), "-1,234");
    }

    proptest! {
        #[test]
        fn formatting_round_trips(minor in 0i128..=10i128.pow(33), idx in 0usize..12) {
            let asset = &crate::domain::asset::ASSETS[idx];
            let minor = minor % (10i128.pow(asset.decimals) * 10i128.pow(MAX_WHOLE_DIGITS as u32));
            let amount = Amount::from_minor(asset, minor);
            let back = Amount::parse_non_negative(asset, &amount.to_string()).unwrap();
            prop_assert_eq!(back, amount);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Amount::parse(asset("ETH"), &s);
        }
    }
}
