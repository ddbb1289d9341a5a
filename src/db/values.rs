//! Fiat values recorded for payouts: the rate at confirmation, each row's values at payment.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{item_values::dsl as v, payout_rates::dsl as r};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::payout_rates)]
pub struct PayoutRateRow {
    pub payout_id: i64,
    pub currency: String,
    pub rate: String,
    pub source: String,
    pub observed_at: NaiveDateTime,
    pub amount_fiat: String,
    pub fee_fiat: String,
    pub entered_in_fiat: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::item_values)]
pub struct ItemValueRow {
    pub payout_id: i64,
    pub line: i32,
    pub org_id: i64,
    pub currency: String,
    pub confirmed_fiat: Option<String>,
    pub entered_fiat: Option<String>,
    pub paid_at: Option<NaiveDateTime>,
    pub paid_currency: Option<String>,
    pub paid_rate: Option<String>,
    pub paid_source: Option<String>,
    pub paid_observed_at: Option<NaiveDateTime>,
    pub paid_fiat: Option<String>,
    pub fee_fiat: Option<String>,
    pub network_asset: Option<String>,
    pub network_fee: Option<String>,
    pub network_fee_fiat: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::item_values)]
// NULL rather than DEFAULT for a None: SQLite can then take many rows in one statement.
#[diesel(treat_none_as_default_value = false)]
pub struct NewItemValue {
    pub payout_id: i64,
    pub line: i32,
    pub org_id: i64,
    pub currency: String,
    pub confirmed_fiat: Option<String>,
    pub entered_fiat: Option<String>,
}

impl NewItemValue {
    /// The row as this insert stores it: nothing paid yet.
    pub fn as_stored(&self) -> ItemValueRow {
        ItemValueRow {
            payout_id: self.payout_id,
            line: self.line,
            org_id: self.org_id,
            currency: self.currency.clone(),
            confirmed_fiat: self.confirmed_fiat.clone(),
            entered_fiat: self.entered_fiat.clone(),
            paid_at: None,
            paid_currency: None,
            paid_rate: None,
            paid_source: None,
            paid_observed_at: None,
            paid_fiat: None,
            fee_fiat: None,
            network_asset: None,
            network_fee: None,
            network_fee_fiat: None,
        }
    }
}

/// What a row's payment recorded.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::item_values)]
// NULL rather than DEFAULT for a None: SQLite can then take many rows in one statement.
#[diesel(treat_none_as_default_value = false)]
pub struct PaidValue {
    pub payout_id: i64,
    pub line: i32,
    pub org_id: i64,
    /// Only used when the row has no values yet (a row confirmed before values were kept).
    pub currency: String,
    pub paid_at: Option<NaiveDateTime>,
    pub paid_currency: Option<String>,
    pub paid_rate: Option<String>,
    pub paid_source: Option<String>,
    pub paid_observed_at: Option<NaiveDateTime>,
    pub paid_fiat: Option<String>,
    pub fee_fiat: Option<String>,
    pub network_asset: Option<String>,
    pub network_fee: Option<String>,
    pub network_fee_fiat: Option<String>,
}

pub fn insert_rate(conn: &mut DbConnection, row: &PayoutRateRow) -> DbResult<()> {
    diesel::insert_into(r::payout_rates).values(row).execute(conn).map(drop)
}

pub fn insert_items(conn: &mut DbConnection, rows: &[NewItemValue]) -> DbResult<()> {
    for chunk in rows.chunks(500) {
        super::per_backend!(conn, |c| diesel::insert_into(v::item_values).values(chunk.to_vec()).execute(c))?;
    }
    Ok(())
}

/// Records rows' payments, a few hundred rows per statement (the processor records thousands in
/// one transaction). Each row is recorded paid once (its status change is a compare-and-swap),
/// so the values are simply written.
pub fn set_paid(conn: &mut DbConnection, rows: &[PaidValue]) -> DbResult<()> {
    use diesel::upsert::excluded;
    macro_rules! paid_columns {
        () => {
            (
                v::paid_at.eq(excluded(v::paid_at)),
                v::paid_currency.eq(excluded(v::paid_currency)),
                v::paid_rate.eq(excluded(v::paid_rate)),
                v::paid_source.eq(excluded(v::paid_source)),
                v::paid_observed_at.eq(excluded(v::paid_observed_at)),
                v::paid_fiat.eq(excluded(v::paid_fiat)),
                v::fee_fiat.eq(excluded(v::fee_fiat)),
                v::network_asset.eq(excluded(v::network_asset)),
                v::network_fee.eq(excluded(v::network_fee)),
                v::network_fee_fiat.eq(excluded(v::network_fee_fiat)),
            )
        };
    }
    for chunk in rows.chunks(300) {
        super::per_backend!(conn, |c| diesel::insert_into(v::item_values)
            .values(chunk.to_vec())
            .on_conflict((v::payout_id, v::line))
            .do_update()
            .set(paid_columns!())
            .execute(c))?;
    }
    Ok(())
}

pub fn rate_of(conn: &mut DbConnection, payout_id: i64) -> DbResult<Option<PayoutRateRow>> {
    r::payout_rates.find(payout_id).select(PayoutRateRow::as_select()).first(conn).optional()
}

pub fn rates_of(conn: &mut DbConnection, payout_ids: &[i64]) -> DbResult<Vec<PayoutRateRow>> {
    let mut out = Vec::new();
    for chunk in payout_ids.chunks(500) {
        out.extend(r::payout_rates.filter(r::payout_id.eq_any(chunk)).select(PayoutRateRow::as_select()).load(conn)?);
    }
    Ok(out)
}

pub fn items_of(conn: &mut DbConnection, payout_id: i64) -> DbResult<Vec<ItemValueRow>> {
    v::item_values.filter(v::payout_id.eq(payout_id)).order(v::line).select(ItemValueRow::as_select()).load(conn)
}

/// One row's values.
pub fn item_of(conn: &mut DbConnection, payout_id: i64, line: i32) -> DbResult<Option<ItemValueRow>> {
    v::item_values
        .filter(v::payout_id.eq(payout_id).and(v::line.eq(line)))
        .select(ItemValueRow::as_select())
        .first(conn)
        .optional()
}

/// Rows of an organization paid in `[from, to)`, by payment time.
pub fn paid_between(
    conn: &mut DbConnection,
    org_id: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> DbResult<Vec<ItemValueRow>> {
    v::item_values
        .filter(v::org_id.eq(org_id).and(v::paid_at.ge(from)).and(v::paid_at.lt(to)))
        .order((v::paid_at, v::payout_id, v::line))
        .select(ItemValueRow::as_select())
        .load(conn)
}

/// When the organization's latest row was paid (an index probe on `(org_id, paid_at)`).
pub fn last_paid_at(conn: &mut DbConnection, org_id: i64) -> DbResult<Option<NaiveDateTime>> {
    v::item_values.filter(v::org_id.eq(org_id)).select(diesel::dsl::max(v::paid_at)).first(conn)
}

/// An organization's account mapping: (entry, account).
pub fn accounts(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, String)>> {
    use super::schema::accounting_accounts::dsl as a;
    a::accounting_accounts.filter(a::org_id.eq(org_id)).select((a::entry, a::account)).load(conn)
}

/// Replaces an organization's account mapping.
pub fn save_accounts(conn: &mut DbConnection, org_id: i64, rows: &[(String, String)]) -> DbResult<()> {
    use super::schema::accounting_accounts::dsl as a;
    diesel::delete(a::accounting_accounts.filter(a::org_id.eq(org_id))).execute(conn)?;
    for (entry, account) in rows {
        diesel::insert_into(a::accounting_accounts)
            .values((a::org_id.eq(org_id), a::entry.eq(entry), a::account.eq(account)))
            .execute(conn)?;
    }
    Ok(())
}

/// The values of every row of these payouts.
pub fn items_of_payouts(conn: &mut DbConnection, payout_ids: &[i64]) -> DbResult<Vec<ItemValueRow>> {
    let mut out = Vec::new();
    for chunk in payout_ids.chunks(500) {
        out.extend(v::item_values.filter(v::payout_id.eq_any(chunk)).select(ItemValueRow::as_select()).load(conn)?);
    }
    Ok(out)
}
