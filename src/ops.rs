//! Operator commands on a database as it is: `verify-ledger`, `backup` and `restore`. None of
//! them migrates the database it reads, so a copy is checked exactly as it was made.

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

/// Copies the database to `to` while the server keeps running. SQLite: `VACUUM INTO`, which
/// reads one snapshot inside a read transaction (writers go on; the copy is consistent and
/// compact) into a file renamed into place only when whole. PostgreSQL: `pg_dump`'s custom
/// format, also one snapshot. Returns what was written.
pub fn backup(url: &DatabaseUrl, to: &Path) -> Result<String, String> {
    if to.exists() {
        return Err(format!("{} already exists; choose a new file, a backup never overwrites one", to.display()));
    }
    let partial = partial_path(to);
    let _ = std::fs::remove_file(&partial);
    let written = match url.backend() {
        Backend::Sqlite => {
            let mut conn = open_existing(url)?;
            let target = partial.to_str().ok_or("the backup file's path must be UTF-8")?;
            db::copy_sqlite_into(&mut conn, target).map_err(|e| format!("backing up failed: {e}"))
        }
        Backend::Postgres => run_tool(
            std::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(&partial)
                .arg(url.target()),
            "pg_dump",
        ),
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, to).map_err(|e| format!("cannot move the backup into {}: {e}", to.display()))?;
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(format!("backed up {} to {} ({size} bytes)", url.redacted(), to.display()))
}

/// Restores a backup into an empty database (SQLite: a file that does not exist yet; PostgreSQL:
/// a database with no tables), migrates it to this version and verifies its ledger.
pub fn restore(out: &mut impl Write, from: &Path, url: &DatabaseUrl) -> u8 {
    match restore_into(from, url) {
        Ok(()) => {
            let _ = writeln!(out, "restored {} into {}; verifying its ledger", from.display(), url.redacted());
            verify_ledger(out, url)
        }
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            EXIT_UNREADABLE
        }
    }
}

fn restore_into(from: &Path, url: &DatabaseUrl) -> Result<(), String> {
    let mut header = [0u8; 16];
    let read = std::fs::File::open(from)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut header))
        .map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let header = &header[..read];
    match url.backend() {
        Backend::Sqlite => {
            if header != b"SQLite format 3\0" {
                return Err(format!("{} is not an SQLite backup", from.display()));
            }
            let target = Path::new(url.target());
            if target.exists() {
                return Err(format!(
                    "{} already holds a database; restore only into an empty data directory",
                    target.display()
                ));
            }
            crate::config::prepare_sqlite_dir(url)?;
            let partial = partial_path(target);
            std::fs::copy(from, &partial).map_err(|e| format!("cannot copy the backup: {e}"))?;
            let checked = DatabaseUrl::sqlite_path(&partial);
            let result = db::connect(&checked, 1).and_then(|pool| {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                db::check_integrity(&mut conn)?;
                db::migrate(&mut conn).map(drop)
            });
            if let Err(e) = result {
                let _ = std::fs::remove_file(&partial);
                return Err(format!("{} cannot be restored: {e}", from.display()));
            }
            // Closed, so SQLite has folded its write-ahead log back; any left goes along with it.
            for suffix in ["-wal", "-shm"] {
                let side = format!("{}{suffix}", partial.display());
                if Path::new(&side).exists() {
                    std::fs::rename(&side, format!("{}{suffix}", target.display()))
                        .map_err(|e| format!("cannot move the restored database into place: {e}"))?;
                }
            }
            std::fs::rename(&partial, target).map_err(|e| format!("cannot move the restored database into place: {e}"))
        }
        Backend::Postgres => {
            if !header.starts_with(b"PGDMP") {
                return Err(format!("{} is not a pg_dump backup in the custom format", from.display()));
            }
            let mut conn = open_existing(url)?;
            if db::has_tables(&mut conn).map_err(|e| e.to_string())? {
                return Err(format!("{} already holds tables; restore only into an empty database", url.redacted()));
            }
            drop(conn);
            run_tool(
                std::process::Command::new("pg_restore")
                    .args(["--no-owner", "--exit-on-error", "--single-transaction", "--dbname"])
                    .arg(url.target())
                    .arg(from),
                "pg_restore",
            )?;
            let mut conn = open_existing(url)?;
            db::migrate(&mut conn).map(drop)
        }
    }
}

fn partial_path(to: &Path) -> std::path::PathBuf {
    let mut name = to.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    to.with_file_name(name)
}

fn run_tool(command: &mut std::process::Command, name: &str) -> Result<(), String> {
    let output = command.output().map_err(|e| {
        format!("cannot run {name} ({e}); install PostgreSQL's client tools, or run {name} yourself (README: Backups)")
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!("{name} failed: {}", stderr.trim().chars().take(500).collect::<String>()))
}
