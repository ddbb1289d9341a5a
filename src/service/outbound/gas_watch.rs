//! The gas payer: a hot wallet pays every transaction's gas in its chain's coin, whatever asset
//! the rows pay. When its coin cannot cover the estimated gas of the payouts in progress (plus
//! the rows paid in the coin itself), the dashboard says so and organizations with payouts
//! waiting on it get a `wallet.gas_low` webhook — separately from the token balance warning.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde_json::json;

use crate::clock::Clock;
use crate::db::{self, DbConnection};
use crate::domain::event::WALLET_GAS_LOW;
use crate::domain::{Amount, asset};
use crate::error::AppError;
use crate::rails::{GasOutlook, OpenRows, Rail};

/// A wallet still short is announced again after this long.
const REPEAT_HOURS: i64 = 6;

/// Which organization has rows open in which asset.
type Waiting = Vec<(i64, &'static asset::Asset)>;

/// Unsettled rows of payouts in progress per asset, and the organizations they belong to.
fn open_rows(conn: &mut DbConnection) -> Result<(Vec<OpenRows>, Waiting), AppError> {
    let mut open: Vec<OpenRows> = Vec::new();
    let mut orgs: Waiting = Vec::new();
    for (org, code, amount) in db::processor::open_rows(conn)? {
        let Some(a) = asset::find(&code) else { continue };
        let value = Amount::parse(a, &amount).unwrap_or_else(|_| Amount::zero(a));
        match open.iter_mut().find(|o| o.asset.code == a.code) {
            Some(o) => {
                o.rows += 1;
                o.value = o.value.checked_add(value).unwrap_or(o.value);
            }
            None => open.push(OpenRows { asset: a, rows: 1, value }),
        }
        if !orgs.contains(&(org, a)) {
            orgs.push((org, a));
        }
    }
    Ok((open, orgs))
}

/// The wallets that cannot cover what the payouts in progress will take from them.
pub fn short_wallets(conn: &mut DbConnection, rails: &[Arc<dyn Rail>]) -> Result<Vec<GasOutlook>, AppError> {
    if rails.is_empty() {
        return Ok(Vec::new());
    }
    let (open, _) = open_rows(conn)?;
    Ok(outlooks(rails, &open).into_iter().filter(|o| o.short_by().is_some()).collect())
}

fn outlooks(rails: &[Arc<dyn Rail>], open: &[OpenRows]) -> Vec<GasOutlook> {
    rails
        .iter()
        .filter_map(|c| match c.gas_outlook(open)? {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::warn!(error = %e, "the hot wallet's coin balance could not be read");
                None
            }
        })
        .collect()
}

/// One round of the watch: a wallet that has become short (or is still short after
/// [`REPEAT_HOURS`]) is announced to each organization with rows waiting on it, once across all
/// server processes; a wallet that is no longer short is forgotten. Returns how many wallets
/// were announced.
pub fn watch(conn: &mut DbConnection, rails: &[Arc<dyn Rail>], at: NaiveDateTime) -> Result<usize, AppError> {
    let (open, orgs) = open_rows(conn)?;
    let mut announced = 0;
    for outlook in outlooks(rails, &open) {
        let key = format!("gas_low_announced:{}", outlook.address);
        let previous = db::settings::get(conn, &key)?;
        let Some(short) = outlook.short_by() else {
            if previous.is_some() {
                db::settings::delete(conn, &key)?;
            }
            continue;
        };
        let due = previous
            .as_deref()
            .and_then(|t| t.parse::<i64>().ok())
            .is_none_or(|t| at.and_utc().timestamp() - t >= REPEAT_HOURS * 3600);
        if !due
            || !db::settings::compare_and_set(conn, &key, previous.as_deref(), &at.and_utc().timestamp().to_string())?
        {
            continue;
        }
        let waiting: Vec<i64> = {
            let mut ids: Vec<i64> =
                orgs.iter().filter(|(_, a)| a.network == outlook.coin.network).map(|(org, _)| *org).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let data = json!({
            "network": outlook.coin.network,
            "wallet": outlook.address,
            "coin": outlook.coin.code,
            "held": outlook.held.to_string(),
            "gas_needed": outlook.gas.to_string(),
            "coin_payouts": outlook.value.to_string(),
            "short_by": short.to_string(),
        });
        db::write_tx(conn, |conn| {
            for org in &waiting {
                db::events::append(conn, &[db::events::NewEvent::json(*org, WALLET_GAS_LOW, &data, at)])?;
            }
            Ok::<(), AppError>(())
        })?;
        tracing::warn!(wallet = %outlook.address, short = %short, coin = outlook.coin.code, "the hot wallet cannot pay the gas of the payouts in progress");
        announced += 1;
    }
    Ok(announced)
}

/// Runs the watch every `interval` on its own thread.
pub fn spawn(pool: db::Pool, rails: Arc<Vec<Arc<dyn Rail>>>, interval: std::time::Duration, clock: Clock) {
    if rails.is_empty() {
        return;
    }
    std::thread::Builder::new()
        .name("gas-watch".into())
        .spawn(move || {
            loop {
                match pool.get() {
                    Ok(mut conn) => {
                        if let Err(e) = watch(&mut conn, &rails, clock.now()) {
                            tracing::error!(error = %e, "gas watch round failed");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "gas watch has no database connection"),
                }
                std::thread::sleep(interval);
            }
        })
        .expect("the gas watch thread starts");
}
