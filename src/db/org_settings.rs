//! Per-organization settings: which assets are enabled, and fee rules that replace the defaults.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{fee_rules::dsl as f, org_assets::dsl as oa};
use super::{DbConnection, DbResult};

/// (asset, enabled) for the assets that have a stored choice; the others are enabled.
pub fn asset_choices(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, bool)>> {
    oa::org_assets.filter(oa::org_id.eq(org_id)).select((oa::asset, oa::enabled)).load(conn)
}

pub fn set_asset_enabled(conn: &mut DbConnection, org_id: i64, asset: &str, enabled: bool) -> DbResult<()> {
    let row = (oa::org_id.eq(org_id), oa::asset.eq(asset), oa::enabled.eq(enabled));
    super::per_backend!(conn, |c| diesel::insert_into(oa::org_assets)
        .values(row)
        .on_conflict((oa::org_id, oa::asset))
        .do_update()
        .set(oa::enabled.eq(enabled))
        .execute(c))
    .map(drop)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::fee_rules)]
pub struct FeeRuleRow {
    pub org_id: i64,
    pub asset: String,
    pub operation: String,
    pub percent: String,
    pub fixed: String,
    pub min_fee: String,
    pub max_fee: Option<String>,
    pub updated_by: Option<i64>,
    pub updated_at: NaiveDateTime,
}

pub fn fee_rules(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<FeeRuleRow>> {
    f::fee_rules.filter(f::org_id.eq(org_id)).select(FeeRuleRow::as_select()).load(conn)
}

pub fn put_fee_rule(conn: &mut DbConnection, row: &FeeRuleRow) -> DbResult<()> {
    let values = (
        f::percent.eq(&row.percent),
        f::fixed.eq(&row.fixed),
        f::min_fee.eq(&row.min_fee),
        f::max_fee.eq(&row.max_fee),
        f::updated_by.eq(row.updated_by),
        f::updated_at.eq(row.updated_at),
    );
    let key = (f::org_id.eq(row.org_id), f::asset.eq(&row.asset), f::operation.eq(&row.operation));
    super::per_backend!(conn, |c| diesel::insert_into(f::fee_rules)
        .values((key, values))
        .on_conflict((f::org_id, f::asset, f::operation))
        .do_update()
        .set(values)
        .execute(c))
    .map(drop)
}
