//! The operational figures `/metrics` tells a monitoring system: work waiting, its age, what is
//! stuck, the webhook and notification backlogs, the hot wallets' balances.

use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::db::{self, DbConnection};
use crate::domain::asset::ASSETS;
use crate::error::AppError;

pub struct Figures {
    pub rows_open: Vec<(String, i64)>,
    /// Seconds; 0 when nothing waits.
    pub oldest_pending_approval: i64,
    pub oldest_open_row: i64,
    /// Rows in progress unchanged for longer than the stuck limit, plus rows needing review.
    pub stuck_rows: i64,
    pub webhook_deliveries: Vec<(String, i64)>,
    pub notifications: Vec<(String, i64)>,
    /// (asset, wallet address, balance on chain as a decimal string).
    pub hot_wallets: Vec<(&'static str, String, String)>,
    /// Rows held for compliance (a listed address at sending).
    pub rows_held: i64,
    /// Each sanctions list in force and seconds since it was imported.
    pub sanctions_lists: Vec<(String, i64)>,
}

pub fn figures(
    conn: &mut DbConnection,
    rails: &Arc<Vec<Arc<dyn crate::rails::Rail>>>,
    now: NaiveDateTime,
    stuck_after: chrono::Duration,
) -> Result<Figures, AppError> {
    let age = |t: Option<NaiveDateTime>| t.map_or(0, |t| (now - t).num_seconds().max(0));
    let rows_open = db::figures::open_rows(conn)?;
    let needs_review = rows_open.iter().find(|(s, _)| s == "needs_review").map_or(0, |(_, n)| *n);
    let mut hot_wallets = Vec::new();
    for rail in rails.iter() {
        for asset in ASSETS.iter() {
            if let Some(view) = rail.wallet(asset)
                && let Ok(balance) = view.on_chain
            {
                hot_wallets.push((asset.code, view.address, balance.to_string()));
            }
        }
    }
    Ok(Figures {
        oldest_pending_approval: age(db::figures::oldest_pending_payout(conn)?),
        oldest_open_row: age(db::figures::oldest_moving_row(conn)?),
        stuck_rows: db::figures::rows_unmoved_since(conn, now - stuck_after)? + needs_review,
        rows_open,
        webhook_deliveries: db::figures::webhook_backlog(conn)?,
        notifications: db::figures::outbox_backlog(conn)?,
        hot_wallets,
        rows_held: db::figures::rows_held(conn)?,
        sanctions_lists: db::sanctions::lists(conn)?
            .into_iter()
            .filter(|l| l.version > 0)
            .map(|l| (l.name, (now - l.imported_at).num_seconds().max(0)))
            .collect(),
    })
}
