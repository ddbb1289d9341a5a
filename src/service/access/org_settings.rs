//! The organization's time zone, enabled assets and fee schedule, editable by admins, every change audited.

use crate::db::org_settings::FeeRuleRow;
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, ASSETS, Asset};
use crate::domain::fee::{FeeRule, FeeRuleInput, FeeSchedule, Operation};
use crate::domain::zone::Zone;
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

/// The organization's time zone, in which pay days, schedules and months are typed and shown.
pub fn time_zone(conn: &mut DbConnection, org_id: i64) -> Result<Zone, AppError> {
    Ok(Zone::stored(&db::orgs::find(conn, org_id)?.time_zone))
}

/// The assets the organization may pay out, in the asset table's order.
pub fn enabled_assets(conn: &mut DbConnection, org_id: i64) -> Result<Vec<&'static Asset>, AppError> {
    let choices = db::org_settings::asset_choices(conn, org_id)?;
    Ok(ASSETS
        .iter()
        .filter(|a| choices.iter().find(|(code, _)| code == a.code).is_none_or(|(_, enabled)| *enabled))
        .collect())
}

/// Enables exactly the assets in `codes`; at least one must stay enabled.
pub fn set_enabled_assets(conn: &mut DbConnection, actor: &Actor, codes: &[String]) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let wanted: Vec<&'static Asset> = codes.iter().filter_map(|c| asset::find(c)).collect();
    if wanted.is_empty() {
        return Err(FieldErrors::single("assets", "Keep at least one asset enabled.").into());
    }
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let before = enabled_assets(conn, actor.org_id)?;
        for a in ASSETS.iter() {
            let enable = wanted.iter().any(|w| w.code == a.code);
            let was = before.iter().any(|b| b.code == a.code);
            if enable != was {
                db::org_settings::set_asset_enabled(conn, actor.org_id, a.code, enable)?;
                let action = if enable { "asset.enabled" } else { "asset.disabled" };
                audit::record(conn, Entry::by(actor, action, "asset", a.code), at)?;
            }
        }
        Ok(())
    })
}

/// Whether the Solana rail creates recipients' missing token accounts (rent paid by the hot
/// wallet) for the organization's rows; off, such rows fail unsent and the review says so.
pub fn creates_token_accounts(conn: &mut DbConnection, org_id: i64) -> Result<bool, AppError> {
    Ok(db::orgs::find(conn, org_id)?.create_token_accounts)
}

pub fn set_create_token_accounts(conn: &mut DbConnection, actor: &Actor, create: bool) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| -> Result<(), AppError> {
        if db::orgs::find(conn, actor.org_id)?.create_token_accounts == create {
            return Ok(());
        }
        db::orgs::set_create_token_accounts(conn, actor.org_id, create)?;
        let action = if create { "org.token_accounts_created" } else { "org.token_accounts_refused" };
        audit::record(conn, Entry::by(actor, action, "organization", actor.org_id), at)?;
        Ok(())
    })
}

fn rule_from_row(row: &FeeRuleRow) -> Result<FeeRule, AppError> {
    let bad = || AppError::Internal(format!("stored fee rule {}/{} is invalid", row.asset, row.operation));
    let asset = asset::find(&row.asset).ok_or_else(bad)?;
    let operation = Operation::parse(&row.operation).ok_or_else(bad)?;
    let input = FeeRuleInput {
        percent: row.percent.clone(),
        fixed: row.fixed.clone(),
        min: row.min_fee.clone(),
        max: row.max_fee.clone().unwrap_or_default(),
    };
    FeeRule::parse(asset, operation, &input).map_err(|_| bad())
}

pub fn fee_schedule(conn: &mut DbConnection, org_id: i64) -> Result<FeeSchedule, AppError> {
    let rows = db::org_settings::fee_rules(conn, org_id)?;
    Ok(FeeSchedule::new(rows.iter().map(rule_from_row).collect::<Result<_, _>>()?))
}

fn describe(rule: &FeeRule) -> String {
    let max = rule.max.map_or_else(|| "none".to_string(), |m: Amount| m.money());
    format!("{} % + {} fixed, min {}, max {}", rule.percent, rule.fixed.money(), rule.min.money(), max)
}

pub fn update_fee_rule(
    conn: &mut DbConnection,
    actor: &Actor,
    asset_code: &str,
    operation: &str,
    input: &FeeRuleInput,
) -> Result<FeeRule, AppError> {
    actor.require(Role::can_administer)?;
    let asset = asset::find(asset_code).ok_or(AppError::NotFound)?;
    let operation = Operation::parse(operation).ok_or(AppError::NotFound)?;
    let rule = FeeRule::parse(asset, operation, input)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Changing fees")?;
        let before = fee_schedule(conn, actor.org_id)?.rule(asset, operation);
        db::org_settings::put_fee_rule(
            conn,
            &FeeRuleRow {
                org_id: actor.org_id,
                asset: asset.code.into(),
                operation: operation.as_str().into(),
                percent: rule.percent.to_string(),
                fixed: rule.fixed.to_string(),
                min_fee: rule.min.to_string(),
                max_fee: rule.max.map(|m| m.to_string()),
                updated_by: Some(actor.user_id),
                updated_at: at,
            },
        )?;
        audit::record(
            conn,
            Entry::by(actor, "fee.changed", "fee_rule", format!("{}/{}", asset.code, operation.as_str()))
                .detail(format!("{} → {}", describe(&before), describe(&rule))),
            at,
        )?;
        Ok(rule)
    })
}
