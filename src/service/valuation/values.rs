//! Fiat values recorded as money moves, never recomputed later: the rate a payout was confirmed
//! at with each row's value, and when a row is paid, the rate then, its value, the service fee's
//! value and the network fee the chain charged with its value. A moment without a current rate
//! records nothing for that moment: pages say so, nothing is guessed.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::db::values::{ItemValueRow, NewItemValue, PaidValue, PayoutRateRow};
use crate::db::{self, DbConnection};
use crate::domain::Amount;
use crate::domain::asset::{self, Asset};
use crate::domain::fiat::{self, Fiat};
use crate::error::AppError;
use crate::service::valuation::rates::{self, Quote, RateNow};

/// One row as confirmed: its line, amount and service fee, and the fiat amount it was typed as.
pub(crate) struct ConfirmedRow {
    pub line: i32,
    pub amount: Amount,
    pub fee: Amount,
    pub entered: Option<Fiat>,
}

/// What [`record_confirmation`] wrote: the rows' values and the payout's rate.
pub(crate) struct Confirmation {
    pub values: Vec<NewItemValue>,
    pub rate: Option<PayoutRateRow>,
}

/// Records the rate in force at confirmation (`priced`: the rate fiat-typed rows were converted
/// at, else the organization's current rate) and each row's value at it. Runs in the create
/// transaction.
pub(crate) fn record_confirmation(
    conn: &mut DbConnection,
    org_id: i64,
    payout_id: i64,
    asset: &'static Asset,
    rows: &[ConfirmedRow],
    priced: Option<&Quote>,
    at: NaiveDateTime,
) -> Result<Confirmation, AppError> {
    let reporting = rates::reporting(conn, org_id)?;
    let currency = reporting.currency;
    let quote = match priced {
        Some(q) => Some(q.clone()),
        None => rates::rate_now(conn, org_id, asset, &reporting, at)?.current().cloned(),
    };
    let value = |a: Amount| quote.as_ref().and_then(|q| fiat::value_of(a, q.rate, currency));
    let mut values = Vec::with_capacity(rows.len());
    let (mut amount_total, mut fee_total) = (Some(0i128), Some(0i128));
    for row in rows {
        let (v, f) = (value(row.amount), value(row.fee));
        amount_total = amount_total.zip(v).and_then(|(t, v)| t.checked_add(v.minor));
        fee_total = fee_total.zip(f).and_then(|(t, f)| t.checked_add(f.minor));
        values.push(NewItemValue {
            payout_id,
            line: row.line,
            org_id,
            currency: currency.code.into(),
            confirmed_fiat: v.map(|v| v.minor.to_string()),
            entered_fiat: row.entered.map(|e| e.minor.to_string()),
        });
    }
    db::values::insert_items(conn, &values)?;
    let rate = match (quote, amount_total, fee_total) {
        (Some(q), Some(amount), Some(fee)) => {
            let row = PayoutRateRow {
                payout_id,
                currency: currency.code.into(),
                rate: q.rate.to_string(),
                source: q.source,
                observed_at: q.observed_at,
                amount_fiat: amount.to_string(),
                fee_fiat: fee.to_string(),
                entered_in_fiat: priced.is_some(),
            };
            db::values::insert_rate(conn, &row)?;
            Some(row)
        }
        _ => None,
    };
    Ok(Confirmation { values, rate })
}

/// One row as paid: its line, amount, service fee and what the network charged for it.
pub(crate) struct PaidRow {
    pub line: i32,
    pub amount: Amount,
    pub fee: Amount,
    pub network_fee: Option<Amount>,
}

/// Records the rows' values at payment, in the transaction that records them paid. The network
/// fee is valued at its coin's rate (ETH for a USDT_ERC20 row).
pub(crate) fn record_payment(
    conn: &mut DbConnection,
    org_id: i64,
    payout_id: i64,
    asset: &'static Asset,
    rows: &[PaidRow],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    let reporting = rates::reporting(conn, org_id)?;
    let currency = reporting.currency;
    let quote = rates::rate_now(conn, org_id, asset, &reporting, at)?.current().cloned();
    let mut coin_rates: HashMap<&'static str, Option<Quote>> = HashMap::new();
    let mut paid = Vec::with_capacity(rows.len());
    for row in rows {
        let value = |a: Amount, q: &Option<Quote>| q.as_ref().and_then(|q| fiat::value_of(a, q.rate, currency));
        let network_fee_fiat = match row.network_fee {
            Some(fee) => {
                let coin = fee.asset();
                if !coin_rates.contains_key(coin.code) {
                    let q = rates::rate_now(conn, org_id, coin, &reporting, at)?.current().cloned();
                    coin_rates.insert(coin.code, q);
                }
                value(fee, &coin_rates[coin.code])
            }
            None => None,
        };
        paid.push(PaidValue {
            payout_id,
            line: row.line,
            org_id,
            currency: currency.code.into(),
            paid_at: Some(at),
            paid_currency: Some(currency.code.into()),
            paid_rate: quote.as_ref().map(|q| q.rate.to_string()),
            paid_source: quote.as_ref().map(|q| q.source.clone()),
            paid_observed_at: quote.as_ref().map(|q| q.observed_at),
            paid_fiat: value(row.amount, &quote).map(|v| v.minor.to_string()),
            fee_fiat: value(row.fee, &quote).map(|v| v.minor.to_string()),
            network_asset: row.network_fee.map(|f| f.asset().code.to_owned()),
            network_fee: row.network_fee.map(|f| f.to_string()),
            network_fee_fiat: network_fee_fiat.map(|v| v.minor.to_string()),
        });
    }
    Ok(db::values::set_paid(conn, &paid)?)
}

/// The rate a payout was confirmed at, as recorded.
#[derive(Debug, Clone)]
pub struct ConfirmedRate {
    pub quote: Quote,
    pub amount: Fiat,
    pub fee: Fiat,
    pub entered_in_fiat: bool,
}

impl ConfirmedRate {
    pub fn total(&self) -> Fiat {
        Fiat { minor: self.amount.minor.saturating_add(self.fee.minor), currency: self.amount.currency }
    }
}

/// A row's recorded values.
#[derive(Debug, Clone, Default)]
pub struct RowValue {
    pub confirmed: Option<Fiat>,
    pub entered: Option<Fiat>,
    pub paid: Option<Paid>,
}

/// A row's payment as recorded; `rate` is None when there was no current rate then.
#[derive(Debug, Clone)]
pub struct Paid {
    pub at: NaiveDateTime,
    pub rate: Option<Quote>,
    pub value: Option<Fiat>,
    pub fee: Option<Fiat>,
    pub network_fee: Option<Amount>,
    pub network_fee_value: Option<Fiat>,
}

fn stored_fiat(text: Option<&str>, code: &str) -> Option<Fiat> {
    Some(Fiat { minor: text?.parse().ok()?, currency: fiat::currency(code)? })
}

pub(crate) fn confirmed_rate(row: &PayoutRateRow) -> Option<ConfirmedRate> {
    let currency = fiat::currency(&row.currency)?;
    Some(ConfirmedRate {
        quote: Quote {
            rate: fiat::Rate::parse(&row.rate).ok()?,
            source: row.source.clone(),
            observed_at: row.observed_at,
            pinned: false,
            valid_until: None,
        },
        amount: Fiat { minor: row.amount_fiat.parse().ok()?, currency },
        fee: Fiat { minor: row.fee_fiat.parse().ok()?, currency },
        entered_in_fiat: row.entered_in_fiat,
    })
}

pub(crate) fn row_value(row: &ItemValueRow) -> RowValue {
    let paid = row.paid_at.map(|at| {
        let code = row.paid_currency.as_deref().unwrap_or(&row.currency);
        let rate = match (&row.paid_rate, &row.paid_source, row.paid_observed_at) {
            (Some(r), Some(s), Some(o)) => fiat::Rate::parse(r).ok().map(|rate| Quote {
                rate,
                source: s.clone(),
                observed_at: o,
                pinned: false,
                valid_until: None,
            }),
            _ => None,
        };
        let network_fee = row
            .network_asset
            .as_deref()
            .and_then(asset::find)
            .zip(row.network_fee.as_deref())
            .and_then(|(a, t)| Amount::parse_non_negative(a, t).ok());
        Paid {
            at,
            rate,
            value: stored_fiat(row.paid_fiat.as_deref(), code),
            fee: stored_fiat(row.fee_fiat.as_deref(), code),
            network_fee,
            network_fee_value: stored_fiat(row.network_fee_fiat.as_deref(), code),
        }
    });
    RowValue {
        confirmed: stored_fiat(row.confirmed_fiat.as_deref(), &row.currency),
        entered: stored_fiat(row.entered_fiat.as_deref(), &row.currency),
        paid,
    }
}

/// What was recorded for one payout: its confirmation rate, and its rows' values by line.
#[derive(Debug, Clone, Default)]
pub struct PayoutValues {
    pub confirmed: Option<ConfirmedRate>,
    pub rows: HashMap<i32, RowValue>,
}

impl PayoutValues {
    /// Totals of what the paid rows were worth at payment, when every paid row has a value.
    pub fn paid_total(&self) -> Option<Fiat> {
        let mut paid = self.rows.values().filter_map(|r| r.paid.as_ref()).peekable();
        paid.peek()?;
        let values: Option<Vec<Fiat>> = paid.map(|p| p.value).collect();
        let values = values?;
        let currency = values.first()?.currency;
        if values.iter().any(|v| v.currency != currency) {
            return None;
        }
        Some(Fiat { minor: values.iter().try_fold(0i128, |t, v| t.checked_add(v.minor))?, currency })
    }

    /// The network fees charged, per coin.
    /// The network fees' value at payment, when every charged fee has one.
    pub fn network_fee_value(&self) -> Option<Fiat> {
        let charged: Vec<&Paid> =
            self.rows.values().filter_map(|r| r.paid.as_ref()).filter(|p| p.network_fee.is_some()).collect();
        let values: Vec<Fiat> = charged.iter().map(|p| p.network_fee_value).collect::<Option<_>>()?;
        let currency = values.first()?.currency;
        let minor =
            values.iter().try_fold(0i128, |t, v| if v.currency == currency { t.checked_add(v.minor) } else { None })?;
        Some(Fiat { minor, currency })
    }

    pub fn network_fees(&self) -> Vec<Amount> {
        let mut sums: Vec<Amount> = Vec::new();
        for fee in self.rows.values().filter_map(|r| r.paid.as_ref()?.network_fee) {
            match sums.iter_mut().find(|s| s.asset().code == fee.asset().code) {
                Some(s) => *s = s.checked_add(fee).unwrap_or(*s),
                None => sums.push(fee),
            }
        }
        sums
    }
}

pub fn of_payout(conn: &mut DbConnection, payout_id: i64) -> Result<PayoutValues, AppError> {
    let confirmed = db::values::rate_of(conn, payout_id)?.as_ref().and_then(confirmed_rate);
    let rows = db::values::items_of(conn, payout_id)?.iter().map(|r| (r.line, row_value(r))).collect();
    Ok(PayoutValues { confirmed, rows })
}

/// The value a confirmation would record now, for a review: the rate and the fiat totals.
/// `rows` are each row's (amount, service fee): valued one by one and summed, by the same rule
/// as [`record_confirmation`], so that the review shows to the cent what is recorded.
pub fn preview(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    rows: &[(Amount, Amount)],
    at: NaiveDateTime,
) -> Result<Preview, AppError> {
    let reporting = rates::reporting(conn, org_id)?;
    let now = rates::rate_now(conn, org_id, asset, &reporting, at)?;
    let value = |a: Amount| now.current().and_then(|q| fiat::value_of(a, q.rate, reporting.currency));
    let sum = |pick: fn(&(Amount, Amount)) -> Amount| -> Option<Fiat> {
        let mut minor = 0i128;
        for row in rows {
            minor = minor.checked_add(value(pick(row))?.minor)?;
        }
        Some(Fiat { minor, currency: reporting.currency })
    };
    let (amount, fee) = if now.current().is_some() { (sum(|r| r.0), sum(|r| r.1)) } else { (None, None) };
    Ok(Preview { amount, fee, currency: reporting.currency, rate: now, at })
}

/// A review's fiat line: the value of the amount and fee at the current rate, or why there is none.
#[derive(Debug, Clone)]
pub struct Preview {
    pub currency: &'static fiat::Currency,
    pub rate: RateNow,
    pub amount: Option<Fiat>,
    pub fee: Option<Fiat>,
    /// When it was priced.
    pub at: NaiveDateTime,
}

impl Preview {
    pub fn total(&self) -> Option<Fiat> {
        let (a, f) = (self.amount?, self.fee?);
        Some(Fiat { minor: a.minor.checked_add(f.minor)?, currency: a.currency })
    }
}
