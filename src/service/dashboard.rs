//! What the dashboard shows.

use super::{Actor, ledger, org_settings};
use crate::db::DbConnection;
use crate::domain::ledger::Balance;
use crate::error::AppError;

pub struct Overview {
    /// One per enabled asset, zero where nothing was deposited, then any other asset that
    /// still holds funds.
    pub balances: Vec<Balance>,
}

pub fn overview(conn: &mut DbConnection, actor: &Actor) -> Result<Overview, AppError> {
    let enabled = org_settings::enabled_assets(conn, actor.org_id)?;
    let held = ledger::balances(conn, actor.org_id)?;
    let mut balances: Vec<Balance> = enabled
        .iter()
        .map(|a| held.iter().find(|b| b.asset().code == a.code).copied().unwrap_or_else(|| Balance::zero(a)))
        .collect();
    balances.extend(
        held.iter()
            .filter(|b| !enabled.iter().any(|a| a.code == b.asset().code) && !b.funded().is_some_and(|f| f.is_zero())),
    );
    Ok(Overview { balances })
}
