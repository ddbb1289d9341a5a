//! Spend limits: the most that may leave in one asset per payout, per rolling 24 hours and per
//! calendar month, whatever the approvals. What counts as spent is what is reserved for open
//! rows or paid (fees aside); released rows no longer count.

use std::fmt;

use super::money::Amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// A payout over a limit is refused with the figures.
    Refuse,
    /// It may go ahead with one approval more than the policy asks.
    Approve,
}

impl OverLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            OverLimit::Refuse => "refuse",
            OverLimit::Approve => "approve",
        }
    }

    pub fn stored(s: &str) -> OverLimit {
        if s == "approve" { OverLimit::Approve } else { OverLimit::Refuse }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub per_payout: Option<Amount>,
    pub per_day: Option<Amount>,
    pub per_month: Option<Amount>,
    pub over_limit: OverLimit,
}

impl Limits {
    pub fn none() -> Limits {
        Limits { per_payout: None, per_day: None, per_month: None, over_limit: OverLimit::Refuse }
    }

    pub fn is_set(&self) -> bool {
        self.per_payout.is_some() || self.per_day.is_some() || self.per_month.is_some()
    }

    /// Every limit `asked` would pass, given what the two periods already used.
    pub fn breaches(&self, used: &Used, asked: Amount) -> Vec<Breach> {
        let mut over = Vec::new();
        if let Some(limit) = self.per_payout
            && asked > limit
        {
            over.push(Breach { period: Period::Payout, limit, used: Amount::zero(asked.asset()), asked });
        }
        for (period, limit, used) in
            [(Period::Day, self.per_day, used.day), (Period::Month, self.per_month, used.month)]
        {
            let Some(limit) = limit else { continue };
            if used.checked_add(asked).is_none_or(|total| total > limit) {
                over.push(Breach { period, limit, used, asked });
            }
        }
        over
    }
}

/// What left or is held to leave in the rolling 24 hours and in the calendar month so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Used {
    pub day: Amount,
    pub month: Amount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Payout,
    Day,
    Month,
}

impl Period {
    pub fn label(self) -> &'static str {
        match self {
            Period::Payout => "Per-payout limit",
            Period::Day => "24-hour limit",
            Period::Month => "Monthly limit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breach {
    pub period: Period,
    pub limit: Amount,
    pub used: Amount,
    pub asked: Amount,
}

impl Breach {
    /// What the period still allows (never below zero).
    pub fn left(&self) -> Amount {
        self.limit.checked_sub(self.used).filter(|a| !a.is_negative()).unwrap_or(Amount::zero(self.limit.asset()))
    }
}

/// `24-hour limit 50,000 USDT_TRC20: 46,200 used, 3,800 left, 4,800 asked; each payout's share
/// frees up 24 hours after it was made`.
impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.period.label();
        match self.period {
            Period::Payout => write!(f, "{label} {}: {} asked", self.limit.money(), self.asked.grouped()),
            Period::Day | Period::Month => {
                let frees = if self.period == Period::Day {
                    "each payout's share frees up 24 hours after it was made"
                } else {
                    "it starts again on the 1st of next month"
                };
                write!(
                    f,
                    "{label} {}: {} used, {} left, {} asked; {frees}",
                    self.limit.money(),
                    self.used.grouped(),
                    self.left().grouped(),
                    self.asked.grouped()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::asset::find;

    fn usdt(s: &str) -> Amount {
        Amount::parse_non_negative(find("USDT_TRC20").unwrap(), s).unwrap()
    }

    #[test]
    fn a_limit_is_reached_exactly_and_passed_by_one_unit() {
        let limits = Limits { per_day: Some(usdt("50000")), ..Limits::none() };
        let used = Used { day: usdt("46200"), month: usdt("46200") };
        assert!(limits.breaches(&used, usdt("3800")).is_empty(), "up to the limit is allowed");
        let over = limits.breaches(&used, usdt("4800"));
        assert_eq!(over.len(), 1);
        assert_eq!(
            over[0].to_string(),
            "24-hour limit 50,000 USDT_TRC20: 46,200 used, 3,800 left, 4,800 asked; each payout's share frees up 24 hours after it was made"
        );
        assert_eq!(limits.breaches(&used, usdt("3800.000001")).len(), 1);
    }

    #[test]
    fn each_period_is_named() {
        let limits = Limits {
            per_payout: Some(usdt("1000")),
            per_day: Some(usdt("5000")),
            per_month: Some(usdt("20000")),
            over_limit: OverLimit::Approve,
        };
        let used = Used { day: usdt("4500"), month: usdt("19500") };
        let text: Vec<String> = limits.breaches(&used, usdt("1500")).iter().map(|b| b.to_string()).collect();
        assert_eq!(
            text,
            [
                "Per-payout limit 1,000 USDT_TRC20: 1,500 asked",
                "24-hour limit 5,000 USDT_TRC20: 4,500 used, 500 left, 1,500 asked; each payout's share frees up 24 \
                 hours after it was made",
                "Monthly limit 20,000 USDT_TRC20: 19,500 used, 500 left, 1,500 asked; it starts again on the 1st of \
                 next month"
            ]
        );
        assert!(Limits::none().breaches(&used, usdt("1000000")).is_empty());
    }
}
