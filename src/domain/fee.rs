//! The service fee: per asset and operation, a percentage, a fixed part, a minimum and an
//! optional maximum. Fees round up to the asset's smallest unit: never undercharge.

use rust_decimal::Decimal;

use super::FieldErrors;
use super::asset::{ASSETS, Asset};
use super::money::Amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A single payout to one address.
    Single,
    /// Each row of a mass payout.
    MassRow,
}

impl Operation {
    pub const ALL: [Operation; 2] = [Operation::Single, Operation::MassRow];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Single => "single",
            Operation::MassRow => "mass_row",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Operation::Single => "Single payout",
            Operation::MassRow => "Mass payout, per row",
        }
    }
}

/// Percentages have at most this many decimal places (0.0001 %).
pub const PERCENT_SCALE: u32 = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct FeeRule {
    pub asset: &'static Asset,
    pub operation: Operation,
    /// 0.5 means 0.5 %.
    pub percent: Decimal,
    pub fixed: Amount,
    pub min: Amount,
    pub max: Option<Amount>,
}

/// What an admin types for one rule; strings as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct FeeRuleInput {
    pub percent: String,
    pub fixed: String,
    pub min: String,
    #[serde(default)]
    pub max: String,
}

impl FeeRule {
    /// The fee for one amount: `ceil(amount × percent / 100) + fixed`, at least `min`, at most
    /// `max` when set.
    pub fn fee_for(&self, amount: Amount) -> Amount {
        let m = self.percent.mantissa();
        let d = 100 * 10i128.pow(self.percent.scale());
        // ceil(a·m/d) as q·m + ceil(r·m/d) with a = q·d + r: exact, and no overflow for any
        // amount an Amount can hold.
        let (q, r) = (amount.minor() / d, amount.minor() % d);
        let percent_part = q * m + (r * m + d - 1) / d;
        let mut fee = percent_part + self.fixed.minor();
        fee = fee.max(self.min.minor());
        if let Some(max) = self.max {
            fee = fee.min(max.minor());
        }
        Amount::from_minor(self.asset, fee)
    }

    pub fn parse(asset: &'static Asset, operation: Operation, input: &FeeRuleInput) -> Result<FeeRule, FieldErrors> {
        let mut errors = FieldErrors::new();
        let percent = match parse_percent(&input.percent) {
            Ok(p) => Some(p),
            Err(m) => {
                errors.add("percent", m);
                None
            }
        };
        let mut amount = |field: &str, s: &str| match Amount::parse_non_negative(asset, s) {
            Ok(a) => Some(a),
            Err(m) => {
                errors.add(field, m);
                None
            }
        };
        let fixed = amount("fixed", &input.fixed);
        let min = amount("min", &input.min);
        let max = if input.max.trim().is_empty() { None } else { amount("max", &input.max) };
        if let (Some(min), Some(max)) = (min, max)
            && max < min
        {
            errors.add("max", "The maximum cannot be below the minimum.");
        }
        errors.into_result(())?;
        Ok(FeeRule {
            asset,
            operation,
            percent: percent.expect("checked"),
            fixed: fixed.expect("checked"),
            min: min.expect("checked"),
            max,
        })
    }

    /// The rule used until an admin sets one.
    pub fn default_for(asset: &'static Asset, operation: Operation) -> FeeRule {
        let (single_min, row_min) = DEFAULT_MINIMUMS
            .iter()
            .find(|(code, _, _)| *code == asset.code)
            .map(|(_, s, r)| (*s, *r))
            .expect("every asset has default fee minimums");
        let (percent, min) = match operation {
            Operation::Single => (Decimal::new(5, 1), single_min),
            Operation::MassRow => (Decimal::new(25, 2), row_min),
        };
        FeeRule {
            asset,
            operation,
            percent,
            fixed: Amount::zero(asset),
            min: Amount::parse(asset, min).expect("valid default"),
            max: None,
        }
    }
}

fn parse_percent(s: &str) -> Result<Decimal, String> {
    let s = s.trim().trim_end_matches('%').trim_end();
    if s.is_empty() {
        return Err("Enter a percentage, 0 for none.".into());
    }
    if !s.chars().all(|c| c.is_ascii_digit() || c == '.') || s.starts_with('.') || s.ends_with('.') {
        return Err("Write the percentage as a plain number, like 0.5 for 0.5 %.".into());
    }
    let p: Decimal = s.parse().map_err(|_| "Write the percentage as a plain number, like 0.5 for 0.5 %.")?;
    if p > Decimal::from(100) {
        return Err("A percentage cannot exceed 100.".into());
    }
    if p.normalize().scale() > PERCENT_SCALE {
        return Err(format!("Use at most {PERCENT_SCALE} decimal places."));
    }
    Ok(p.normalize())
}

/// Default minimum fee per asset: (code, single payout, mass payout row).
const DEFAULT_MINIMUMS: [(&str, &str, &str); 15] = [
    ("BTC", "0.00002", "0.00001"),
    ("LTC", "0.0005", "0.0002"),
    ("DOGE", "1", "0.5"),
    ("ETH", "0.0005", "0.0002"),
    ("USDT_ERC20", "1", "0.3"),
    ("USDC_ERC20", "1", "0.3"),
    ("TRX", "1", "0.5"),
    ("USDT_TRC20", "1", "0.3"),
    ("BNB", "0.0005", "0.0002"),
    ("USDT_BEP20", "1", "0.3"),
    ("POL", "0.1", "0.05"),
    ("USDT_POLYGON", "1", "0.3"),
    ("SOL", "0.005", "0.002"),
    ("USDC_SOL", "1", "0.3"),
    ("USDT_SOL", "1", "0.3"),
];

/// Every asset's rules: the organization's own where set, the defaults elsewhere.
#[derive(Debug, Clone, Default)]
pub struct FeeSchedule {
    overrides: Vec<FeeRule>,
}

impl FeeSchedule {
    pub fn new(overrides: Vec<FeeRule>) -> Self {
        Self { overrides }
    }

    pub fn rule(&self, asset: &'static Asset, operation: Operation) -> FeeRule {
        self.overrides
            .iter()
            .find(|r| r.asset.code == asset.code && r.operation == operation)
            .cloned()
            .unwrap_or_else(|| FeeRule::default_for(asset, operation))
    }

    /// Every (asset, operation) rule, in the asset table's order.
    pub fn all(&self) -> Vec<FeeRule> {
        ASSETS.iter().flat_map(|a| Operation::ALL.map(|op| self.rule(a, op))).collect()
    }
}

/// What paying these amounts costs, stated before anyone confirms.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub asset: &'static Asset,
    pub count: usize,
    pub amount_total: Amount,
    pub fee: Amount,
    pub total_debit: Amount,
    pub available: Option<Amount>,
    /// Whether the available balance covers the total debit; None when no balance was given.
    pub sufficient: Option<bool>,
}

impl Quote {
    /// The fee of each amount under `rule`, summed; None when a total overflows (which takes
    /// sums far beyond any real payout).
    pub fn new(rule: &FeeRule, amounts: &[Amount], available: Option<Amount>) -> Option<Quote> {
        let asset = rule.asset;
        let amount_total = Amount::sum(asset, amounts)?;
        let fees: Vec<Amount> = amounts.iter().map(|a| rule.fee_for(*a)).collect();
        let fee = Amount::sum(asset, &fees)?;
        let total_debit = amount_total.checked_add(fee)?;
        let sufficient = available.map(|a| a >= total_debit);
        Some(Quote { asset, count: amounts.len(), amount_total, fee, total_debit, available, sufficient })
    }

    pub fn balance_after(&self) -> Option<Amount> {
        self.available.and_then(|a| a.checked_sub(self.total_debit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::asset::find;
    use proptest::prelude::*;

    fn usdt() -> &'static Asset {
        find("USDT_TRC20").unwrap()
    }

    fn rule(percent: &str, fixed: &str, min: &str, max: &str) -> FeeRule {
        let input = FeeRuleInput { percent: percent.into(), fixed: fixed.into(), min: min.into(), max: max.into() };
        FeeRule::parse(usdt(), Operation::Single, &input).unwrap()
    }

    fn amt(s: &str) -> Amount {
        Amount::parse(usdt(), s).unwrap()
    }

    #[test]
    fn percentage_rounds_up_to_the_smallest_unit() {
        let r = rule("0.5", "0", "0", "");
        assert_eq!(r.fee_for(amt("100")).to_string(), "0.5");
        // 0.5 % of 0.000003 is 0.000000015: charged as 0.000001, never as zero.
        assert_eq!(r.fee_for(amt("0.000003")).to_string(), "0.000001");
        assert_eq!(r.fee_for(amt("12.345678")).to_string(), "0.061729");
    }

    #[test]
    fn fixed_minimum_and_maximum_apply_in_order() {
        let r = rule("1", "0.1", "0.5", "2");
        assert_eq!(r.fee_for(amt("10")).to_string(), "0.5", "0.1 + 0.1 is below the minimum");
        assert_eq!(r.fee_for(amt("100")).to_string(), "1.1");
        assert_eq!(r.fee_for(amt("1000")).to_string(), "2", "capped");
    }

    #[test]
    fn bad_rules_name_their_field() {
        let input = FeeRuleInput { percent: "101".into(), fixed: "-1".into(), min: "1".into(), max: "0.5".into() };
        let errors = FeeRule::parse(usdt(), Operation::Single, &input).unwrap_err();
        assert!(errors.get("percent").unwrap().contains("exceed 100"));
        assert!(errors.get("fixed").unwrap().contains("minus"));
        assert!(errors.get("max").unwrap().contains("below the minimum"));
        let input = FeeRuleInput { percent: "0.00001".into(), fixed: "0".into(), min: "0".into(), max: "".into() };
        assert!(FeeRule::parse(usdt(), Operation::Single, &input).unwrap_err().get("percent").is_some());
    }

    #[test]
    fn every_asset_has_defaults() {
        let schedule = FeeSchedule::default();
        assert_eq!(schedule.all().len(), ASSETS.len() * 2);
    }

    #[test]
    fn quote_states_the_balance_check() {
        let r = rule("0.5", "0", "1", "");
        let q = Quote::new(&r, &[amt("100"), amt("300")], Some(amt("402"))).unwrap();
        assert_eq!(
            (q.amount_total.to_string(), q.fee.to_string(), q.total_debit.to_string()),
            ("400".into(), "2.5".into(), "402.5".into())
        );
        assert_eq!(q.sufficient, Some(false));
        assert_eq!(q.balance_after().unwrap().to_string(), "-0.5");
    }

    proptest! {
        #[test]
        fn quote_is_amounts_plus_fee_exactly(
            minors in proptest::collection::vec(1i128..10i128.pow(21), 1..50),
            pct in 0u32..=1_000_000u32,
            fixed in 0i128..10i128.pow(8),
            min in 0i128..10i128.pow(8),
            idx in 0usize..12,
        ) {
            let asset = &ASSETS[idx];
            let r = FeeRule {
                asset,
                operation: Operation::MassRow,
                percent: Decimal::new(pct.into(), PERCENT_SCALE),
                fixed: Amount::from_minor(asset, fixed),
                min: Amount::from_minor(asset, min),
                max: None,
            };
            let amounts: Vec<Amount> = minors.iter().map(|m| Amount::from_minor(asset, *m)).collect();
            let q = Quote::new(&r, &amounts, None).unwrap();
            prop_assert_eq!(q.total_debit.minor(), minors.iter().sum::<i128>() + q.fee.minor());
            prop_assert!(q.fee.minor() >= 0);
            for a in &amounts {
                // Computed independently: the exact percentage rounded up, plus fixed, at least min.
                let exact = a.minor() * i128::from(pct);
                let pct_part = (exact + 999_999) / 1_000_000;
                prop_assert!(pct_part * 1_000_000 >= exact && (pct_part - 1) * 1_000_000 < exact || exact == 0);
                prop_assert_eq!(r.fee_for(*a).minor(), (pct_part + fixed).max(min));
            }
        }
    }
}
