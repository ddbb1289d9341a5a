//! Operator commands on a database as it is: `verify-ledger`, `backup` and `restore`. None of
//! them migrates the database it reads, so a copy is checked exactly as it was made.

mod backup;
pub mod backup_file;

use std::io::Write;
use std::path::Path;

use crate::db::{self, Backend, DatabaseUrl};
use crate::service::payouts::verify;

/// Exit codes of `verify-ledger`: the books are whole, a problem was found, nothing could be read.
pub const EXIT_WHOLE: u8 = 0;
pub const EXIT_PROBLEMS: u8 = 1;
pub const EXIT_UNREADABLE: u8 = 2;

/// Opens an existing database without creating or migrating it.
pub fn open_existing(url: &DatabaseUrl) -> Result<db::PooledConn, String> {
    if url.backend() == Backend::Sqlite && !Path::new(url.target()).is_file() {
        return Err(format!("no database at {}", url.target()));
    }
    let pool = db::connect(url, 1)?;
    pool.get().map_err(|e| e.to_string())
}

/// Prints every problem (one line each, with ids) and a summary.
pub fn verify_ledger(out: &mut impl Write, url: &DatabaseUrl) -> u8 {
    let report = open_existing(url).and_then(|mut conn| verify::verify(&mut conn).map_err(|e| e.to_string()));
    match report {
        Ok(report) => {
            for p in &report.problems {
                let _ = writeln!(out, "problem: {p}");
            }
            let _ = writeln!(out, "{}", report.summary());
            if report.is_whole() { EXIT_WHOLE } else { EXIT_PROBLEMS }
        }
        Err(e) => {
            let _ = writeln!(out, "error: cannot verify {}: {e}", url.redacted());
            EXIT_UNREADABLE
        }
    }
}

pub use backup::{backup, restore};
