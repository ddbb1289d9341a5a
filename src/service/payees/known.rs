//! What the organization learns when rows are recorded paid, written in that same transaction:
//! each address's summary (first and last paid, by which payout and line, how often), each
//! payee's last paid address, and the lookalike index. Later checks read these by key.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::db::paid_addresses::{PaidNow, PayeePaidNow};
use crate::db::{self, DbConnection};
use crate::error::AppError;

/// One row recorded paid.
#[derive(Debug, Clone, Copy)]
pub struct PaidRow<'a> {
    pub item_id: i64,
    pub line: i32,
    pub address: &'a str,
    pub payee_id: Option<i64>,
}

/// Records `rows` of `payout_id` as paid at `at`: known from now on, each by one summary row.
pub fn record_paid(
    conn: &mut DbConnection,
    org_id: i64,
    payout_id: i64,
    rows: &[PaidRow],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut addresses: BTreeMap<&str, PaidNow> = BTreeMap::new();
    let mut payees: BTreeMap<i64, PayeePaidNow> = BTreeMap::new();
    for r in rows {
        let a = addresses.entry(r.address).or_insert_with(|| PaidNow {
            org_id,
            address: r.address.to_owned(),
            first_paid_at: at,
            last_paid_at: at,
            last_payout_id: payout_id,
            last_line: r.line,
            times_paid: 0,
        });
        a.times_paid += 1;
        a.last_line = a.last_line.max(r.line);
        if let Some(payee_id) = r.payee_id {
            let p = payees.entry(payee_id).or_insert_with(|| PayeePaidNow {
                payee_id,
                org_id,
                item_id: r.item_id,
                address: r.address.to_owned(),
            });
            if r.item_id > p.item_id {
                p.item_id = r.item_id;
                p.address = r.address.to_owned();
            }
        }
    }
    let paid_to: Vec<&str> = addresses.keys().copied().collect();
    super::lookalike::remember(conn, org_id, &paid_to)?;
    db::paid_addresses::record(conn, addresses.into_values().collect(), payees.into_values().collect())?;
    Ok(())
}
