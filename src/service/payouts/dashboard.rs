//! What the dashboard shows.

use chrono::{Duration, NaiveDate};

use crate::db::{self, DbConnection};
use crate::domain::Amount;
use crate::domain::asset::{self, Asset};
use crate::domain::payout::PayoutStatus;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::payouts::ledger;
use crate::service::payouts::{self, ListQuery, PayoutView};

pub const CHART_DAYS: i64 = 30;

/// One bar of a paid-volume chart.
pub struct Day {
    pub date: NaiveDate,
    pub amount: Amount,
    /// 0–100, relative to the busiest day.
    pub height: i64,
}

/// Paid-out volume of one asset per day over the last 30 days: what recipients received, with
/// the service fees charged on those rows beside it.
pub struct VolumeChart {
    pub asset: &'static Asset,
    pub days: Vec<Day>,
    pub total: Amount,
    pub fees: Amount,
}

pub struct Overview {
    /// One per enabled asset, zero where nothing was deposited, then any other asset that
    /// still holds funds.
    pub balances: Vec<ledger::BalanceLine>,
    pub awaiting_approval: i64,
    pub in_progress: i64,
    /// Drafts schedules made, waiting for someone to review and confirm them.
    pub ready_drafts: Vec<crate::service::payouts::schedules::ReadyDraft>,
    pub recent: Vec<PayoutView>,
    pub charts: Vec<VolumeChart>,
    pub problems: crate::service::payouts::review::Problems,
    /// The reporting currency, and per asset held what its available balance is worth in it
    /// now ("no current rate" when there is none or it is stale: never a guess).
    pub currency: &'static str,
    pub values: Vec<(&'static str, String)>,
    /// The spend limits set, with what is used and left now.
    pub limits: Vec<crate::service::payouts::limits::Standing>,
}

pub fn overview(conn: &mut DbConnection, actor: &Actor, stuck_after: Duration) -> Result<Overview, AppError> {
    let balances = ledger::balance_sheet(conn, actor.org_id)?;
    let counts = db::payouts::status_counts(conn, actor.org_id)?;
    let count = |status: PayoutStatus| counts.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n);
    let awaiting_approval = count(PayoutStatus::Pending);
    let in_progress = count(PayoutStatus::InProgress);
    let mut recent = payouts::list(conn, actor, &ListQuery::default())?.payouts;
    recent.truncate(5);
    let problems = crate::service::payouts::review::problems(conn, actor, stuck_after)?;
    let ready_drafts = crate::service::payouts::schedules::ready_drafts(conn, actor.org_id)?;
    let reporting = crate::service::valuation::rates::reporting(conn, actor.org_id)?;
    let mut values = Vec::new();
    for line in balances.iter().filter(|l| !l.is_empty()) {
        let available = line.balance.available;
        let (now, value) =
            crate::service::valuation::rates::value_now(conn, actor.org_id, available, &reporting, actor.now())?;
        let text = match (value, now) {
            (Some(v), _) => v.money(),
            (None, crate::service::valuation::rates::RateNow::Stale(_)) => "no current rate (the last is stale)".into(),
            (None, _) => "no current rate".into(),
        };
        values.push((available.asset().code, text));
    }
    Ok(Overview {
        currency: reporting.currency.code,
        values,
        balances,
        awaiting_approval,
        in_progress,
        ready_drafts,
        recent,
        charts: charts(conn, actor.org_id, actor.now().date())?,
        problems,
        limits: crate::service::payouts::limits::standings(conn, actor.org_id, actor.now())?,
    })
}

fn charts(conn: &mut DbConnection, org_id: i64, today: chrono::NaiveDate) -> Result<Vec<VolumeChart>, AppError> {
    let first = today - Duration::days(CHART_DAYS - 1);
    let paid = super::paid_totals::days_since(conn, org_id, first)?;
    let mut charts = Vec::new();
    for a in asset::ASSETS.iter() {
        let mut days: Vec<Day> = (0..CHART_DAYS)
            .map(|n| Day { date: first + Duration::days(n), amount: Amount::zero(a), height: 0 })
            .collect();
        let mut any = false;
        let mut fees = Amount::zero(a);
        for (_, day, amount, fee) in paid.iter().filter(|(code, _, _, _)| code == a.code) {
            let index = (*day - first).num_days();
            if let (Some(day), Ok(amount)) = (days.get_mut(index as usize), Amount::parse_non_negative(a, amount)) {
                day.amount = day.amount.checked_add(amount).unwrap_or(day.amount);
                any = true;
                if let Ok(fee) = Amount::parse_non_negative(a, fee) {
                    fees = fees.checked_add(fee).unwrap_or(fees);
                }
            }
        }
        if !any {
            continue;
        }
        let max = days.iter().map(|d| d.amount.minor()).max().unwrap_or(0).max(1);
        for d in days.iter_mut() {
            // At least a sliver for any day with payouts, so small days stay visible.
            d.height = if d.amount.is_zero() { 0 } else { (d.amount.minor() * 100 / max).max(2) as i64 };
        }
        let total = Amount::sum(a, days.iter().map(|d| &d.amount)).unwrap_or(Amount::zero(a));
        charts.push(VolumeChart { asset: a, days, total, fees });
    }
    Ok(charts)
}
