//! A background round run on its own thread every interval for the life of the process (the
//! scheduler, the claims sweep): a round that fails is logged and the next one runs as usual.

use chrono::NaiveDateTime;

use crate::db::{self, DbConnection};
use crate::error::AppError;

pub(super) fn spawn<R>(
    name: &'static str,
    pool: db::Pool,
    clock: crate::clock::Clock,
    interval: std::time::Duration,
    round: fn(&mut DbConnection, NaiveDateTime) -> Result<R, AppError>,
) where
    R: std::fmt::Debug + Default + PartialEq + 'static,
{
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            loop {
                match pool.get() {
                    Ok(mut conn) => match round(&mut conn, clock.now()) {
                        Ok(r) if r != R::default() => tracing::info!(round = name, report = ?r, "background round"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(round = name, error = %e, "background round failed"),
                    },
                    Err(e) => tracing::error!(round = name, error = %e, "background round has no database connection"),
                }
                std::thread::sleep(interval);
            }
        })
        .expect("a background thread starts");
}
