//! The running sums of what was paid (per UTC day, and the service fees of all time), added to
//! in the transaction that records rows paid, under the asset's balance-row lock so that two
//! processes recording at once add in turn. The dashboard's chart and the balances read these.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};

use crate::db::{self, DbConnection};
use crate::domain::{Amount, Asset};
use crate::error::{AppError, stored_amount};

/// Adds paid rows' (amount, service fee) to the day of `at` and to the asset's fee total.
pub fn record(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    rows: &[(Amount, Amount)],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    let overflow = || AppError::Internal("paid total overflow".into());
    let amount = Amount::sum(asset, rows.iter().map(|(a, _)| a)).ok_or_else(overflow)?;
    let fees = Amount::sum(asset, rows.iter().map(|(_, f)| f)).ok_or_else(overflow)?;
    db::ledger::lock(conn, org_id, asset.code)?;
    let day = at.date();
    let (old_amount, old_fees) = match db::paid_totals::day(conn, org_id, asset.code, day)? {
        Some((a, f)) => (stored_amount(asset, &a)?, stored_amount(asset, &f)?),
        None => (Amount::zero(asset), Amount::zero(asset)),
    };
    let (day_amount, day_fees) =
        (old_amount.checked_add(amount).ok_or_else(overflow)?, old_fees.checked_add(fees).ok_or_else(overflow)?);
    db::paid_totals::put_day(conn, org_id, asset.code, day, &day_amount.to_string(), &day_fees.to_string())?;
    if !fees.is_zero() {
        let old = match db::paid_totals::fees(conn, org_id, asset.code)? {
            Some(f) => stored_amount(asset, &f)?,
            None => Amount::zero(asset),
        };
        let total = old.checked_add(fees).ok_or_else(overflow)?;
        db::paid_totals::put_fees(conn, org_id, asset.code, &total.to_string())?;
    }
    Ok(())
}

/// The service fees paid of all time, by asset code.
pub fn fees_paid(conn: &mut DbConnection, org_id: i64) -> Result<HashMap<String, String>, AppError> {
    Ok(db::paid_totals::fees_of_org(conn, org_id)?.into_iter().collect())
}

/// Each paid day from `since` on: (asset code, day, amount, fees), as stored.
pub fn days_since(
    conn: &mut DbConnection,
    org_id: i64,
    since: NaiveDate,
) -> Result<Vec<(String, NaiveDate, String, String)>, AppError> {
    Ok(db::paid_totals::days_since(conn, org_id, since)?)
}
