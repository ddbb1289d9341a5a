//! Lists fetched from the addresses the operator named (`--sanctions-url NAME=URL`), once a day
//! by one server process: the process that swaps the list's due time first fetches it; a file
//! that cannot be fetched or read changes nothing and is tried again an hour later. The same
//! thread tells admins of stale lists.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::lists::{Imported, Importer, import};
use crate::clock::Clock;
use crate::db::{self, DbConnection};
use crate::error::AppError;

/// A list fetched again this long after it was last fetched whole.
pub const REFRESH_HOURS: i64 = 24;
/// A fetch or import that failed is tried again this much later.
pub const RETRY_MINUTES: i64 = 60;
/// Largest file fetched (OFAC's SDN_ADVANCED.XML is about 100 MB).
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

pub use crate::config::sanctions::Source;

fn due_key(list: &str) -> String {
    format!("sanctions_refresh_due:{list}")
}

fn stamp(t: NaiveDateTime) -> String {
    t.and_utc().timestamp().to_string()
}

/// One round: each source whose list is due is fetched and imported by the one process that
/// takes it. Returns what each source taken did.
pub fn round(
    conn: &mut DbConnection,
    agent: &ureq::Agent,
    sources: &[Source],
    at: NaiveDateTime,
) -> Vec<(String, Result<Imported, AppError>)> {
    let mut done = Vec::new();
    for source in sources {
        let key = due_key(&source.list);
        let taken = (|| -> Result<bool, AppError> {
            let due = db::settings::get(conn, &key)?;
            if due.as_deref().and_then(|t| t.parse::<i64>().ok()).is_some_and(|t| t > at.and_utc().timestamp()) {
                return Ok(false);
            }
            // Taken by moving the due time an hour on: a failure is retried then, by any process.
            let retry = stamp(at + chrono::Duration::minutes(RETRY_MINUTES));
            Ok(db::settings::compare_and_set(conn, &key, due.as_deref(), &retry)?)
        })();
        match taken {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                done.push((source.list.clone(), Err(e)));
                continue;
            }
        }
        let result = fetch(agent, &source.url)
            .map_err(|e| AppError::Conflict(format!("{} could not be fetched: {e}", source.shown())))
            .and_then(|bytes| {
                import(conn, Importer::System("daily refresh"), &source.list, &source.shown(), &bytes, at)
            });
        match &result {
            Ok(imported) => {
                tracing::info!(list = %source.list, entries = imported.entries, version = imported.version, "sanctions list refreshed");
                let next = stamp(at + chrono::Duration::hours(REFRESH_HOURS));
                if let Err(e) = db::settings::get(conn, &key)
                    .and_then(|now| db::settings::compare_and_set(conn, &key, now.as_deref(), &next))
                {
                    tracing::warn!(list = %source.list, error = %e, "the list's next refresh could not be recorded");
                }
            }
            Err(e) => {
                tracing::error!(list = %source.list, error = %e, "sanctions list refresh failed; the list in force stays, retried in an hour")
            }
        }
        done.push((source.list.clone(), result));
    }
    done
}

/// The file at `url`, whole, or why not.
pub fn fetch(agent: &ureq::Agent, url: &url::Url) -> Result<Vec<u8>, String> {
    let mut response = agent.get(url.as_str()).call().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    response.body_mut().with_config().limit(MAX_BYTES).read_to_vec().map_err(|e| e.to_string())
}

/// The HTTP client for the operator's list addresses: a generous timeout for files of 100 MB,
/// a few redirects (official download links redirect to their storage).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(300)))
        .http_status_as_error(false)
        .max_redirects(5)
        .build()
        .into()
}

/// Runs a round (and the stale-list watch) every `interval` on its own thread.
pub fn spawn(pool: db::Pool, sources: Vec<Source>, interval: Duration, clock: Clock) {
    std::thread::Builder::new()
        .name("sanctions".into())
        .spawn(move || {
            let agent = agent();
            loop {
                match pool.get() {
                    Ok(mut conn) => {
                        round(&mut conn, &agent, &sources, clock.now());
                        if let Err(e) = super::freshness::announce_stale(&mut conn, clock.now()) {
                            tracing::error!(error = %e, "the stale sanctions list watch failed");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "the sanctions thread has no database connection"),
                }
                std::thread::sleep(interval);
            }
        })
        .expect("the sanctions thread starts");
}
