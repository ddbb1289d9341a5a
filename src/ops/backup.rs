//! `payouts backup` and `payouts restore`, all or nothing.
//!
//! A backup is written under a temporary name no other process can take (created exclusively,
//! beside the target) and moved into place without replacing anything: of several backups to one
//! path at once, exactly one wins and the others say the file exists. A restore checks the
//! backup's checksum, then builds the database beside the target (SQLite) and moves it into
//! place only once its integrity check, migration and ledger verification pass; on PostgreSQL,
//! whatever a failed restore added to the empty database is taken away again.

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::backup_file::{self, Header};
use super::{EXIT_PROBLEMS, EXIT_UNREADABLE, EXIT_WHOLE, open_existing};
use crate::db::{self, Backend, DatabaseUrl};
use crate::service::payouts::verify;

/// A restore's failure: what to print and the exit code.
struct Failed(u8, String);

impl From<String> for Failed {
    fn from(e: String) -> Self {
        Failed(EXIT_UNREADABLE, e)
    }
}

/// A temporary file beside `to` (same directory, so the final move is a rename on one file
/// system), created exclusively under a random name.
fn temp_beside(to: &Path, what: &str) -> Result<NamedTempFile, String> {
    let dir = match to.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(&format!(".{what}"))
        .tempfile_in(&dir)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))
}

/// An earlier version's temporary file: maybe a backup running there now, maybe one that was
/// interrupted. Never ours to delete.
fn refuse_leftover(to: &Path) -> Result<(), String> {
    let mut name = to.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    let partial = to.with_file_name(name);
    if partial.exists() {
        return Err(format!(
            "{} exists: another backup may be writing it, or one was interrupted. Nothing was written; remove it \
             once no backup is running",
            partial.display()
        ));
    }
    Ok(())
}

/// Copies the database to `to` while the server keeps running. SQLite: `VACUUM INTO`, one
/// snapshot read inside a read transaction (writers go on; the copy is consistent and compact).
/// PostgreSQL: `pg_dump`'s custom format, also one snapshot. The copy goes into a backup file
/// with its checksum (backup_file.rs). Returns what was written.
pub fn backup(url: &DatabaseUrl, to: &Path) -> Result<String, String> {
    if to.exists() {
        return Err(format!("{} already exists; choose a new file, a backup never overwrites one", to.display()));
    }
    refuse_leftover(to)?;
    let copy = temp_beside(to, "copy")?;
    match url.backend() {
        Backend::Sqlite => {
            let mut conn = open_existing(url)?;
            let target = copy.path().to_str().ok_or("the backup file's path must be UTF-8")?;
            db::copy_sqlite_into(&mut conn, target).map_err(|e| format!("backing up failed: {e}"))?;
        }
        Backend::Postgres => run_tool(
            std::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(copy.path())
                .arg(url.target()),
            "pg_dump",
        )?,
    }
    let mut whole = temp_beside(to, "backup")?;
    let created = crate::clock::Clock::real().now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let header = backup_file::write(whole.as_file_mut(), copy.path(), url.backend(), &created)?;
    whole.persist_noclobber(to).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} already exists (another backup finished first); choose a new file, a backup never overwrites one",
            to.display()
        ),
        _ => format!("cannot move the backup into {}: {}", to.display(), e.error),
    })?;
    Ok(format!(
        "backed up {} to {} ({} bytes of database, SHA-256 {})",
        url.redacted(),
        to.display(),
        header.bytes,
        header.sha256
    ))
}

/// Restores a backup into an empty database (SQLite: a file that does not exist yet;
/// PostgreSQL: a database with no tables), migrates it to this version and verifies its ledger.
/// Any failure leaves the target as it was: exit 1 when the books are not whole, 2 otherwise.
pub fn restore(out: &mut impl Write, from: &Path, url: &DatabaseUrl) -> u8 {
    let result = match url.backend() {
        Backend::Sqlite => restore_sqlite(out, from, url),
        Backend::Postgres => restore_postgres(out, from, url),
    };
    match result {
        Ok(summary) => {
            let _ = writeln!(out, "restored {} into {}", from.display(), url.redacted());
            let _ = writeln!(out, "{summary}");
            EXIT_WHOLE
        }
        Err(Failed(code, e)) => {
            let _ = writeln!(out, "error: {e}");
            code
        }
    }
}

/// Checks the header before anything else is done: the right kind of database, not newer than
/// this program.
fn extract_checked(from: &Path, into: &mut std::fs::File, backend: Backend) -> Result<Header, String> {
    let header = backup_file::extract(from, into)?;
    if header.backend != backend {
        return Err(format!(
            "{} is a backup of a{} database; restore it into one of that kind",
            from.display(),
            if header.backend == Backend::Sqlite { "n SQLite" } else { " PostgreSQL" }
        ));
    }
    if let Some(newer) = backup_file::newer_than_this(&header) {
        return Err(format!(
            "{} was made by payouts {newer}, newer than this program ({}); restore it with that version or newer",
            from.display(),
            env!("CARGO_PKG_VERSION")
        ));
    }
    Ok(header)
}

/// Verifies the restored books: the summary when whole, the problems as a failure otherwise.
fn verified(out: &mut impl Write, conn: &mut db::DbConnection) -> Result<String, Failed> {
    let report = verify::verify(conn).map_err(|e| Failed(EXIT_UNREADABLE, format!("cannot verify the ledger: {e}")))?;
    for p in &report.problems {
        let _ = writeln!(out, "problem: {p}");
    }
    if report.is_whole() {
        Ok(report.summary())
    } else {
        Err(Failed(EXIT_PROBLEMS, format!("{}; nothing was restored", report.summary())))
    }
}

fn restore_sqlite(out: &mut impl Write, from: &Path, url: &DatabaseUrl) -> Result<String, Failed> {
    let target = Path::new(url.target());
    if target.exists() {
        return Err(Failed(
            EXIT_UNREADABLE,
            format!("{} already holds a database; restore only into an empty data directory", target.display()),
        ));
    }
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf);
    let made_dir = dir.as_ref().is_some_and(|d| !d.exists());
    crate::config::prepare_sqlite_dir(url)?;
    let result = build_sqlite_beside(out, from, target);
    if result.is_err()
        && made_dir
        && let Some(d) = &dir
    {
        // The data directory this restore made, now empty again: nothing remains.
        let _ = std::fs::remove_dir(d);
    }
    result
}

/// The database is built in a temporary file beside the target and moved into place last.
fn build_sqlite_beside(out: &mut impl Write, from: &Path, target: &Path) -> Result<String, Failed> {
    let mut candidate = temp_beside(target, "restoring")?;
    let side_files = |p: &Path| ["-wal", "-shm", "-journal"].map(|s| PathBuf::from(format!("{}{s}", p.display())));
    let cleanup = |p: &Path| {
        for f in side_files(p) {
            let _ = std::fs::remove_file(f);
        }
    };
    extract_checked(from, candidate.as_file_mut(), Backend::Sqlite)?;
    let checked = DatabaseUrl::sqlite_path(candidate.path());
    let summary = (|| {
        let pool = db::connect(&checked, 1)?;
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        db::check_integrity(&mut conn)?;
        db::migrate(&mut conn)?;
        let summary = verified(out, &mut conn)?;
        // Everything folded back into the file before it moves.
        db::checkpoint_sqlite(&mut conn).map_err(|e| format!("cannot finish the restored file: {e}"))?;
        Ok::<_, Failed>(summary)
    })();
    let summary = match summary {
        Ok(s) => s,
        Err(Failed(code, e)) => {
            cleanup(candidate.path());
            return Err(Failed(code, format!("{} cannot be restored: {e}", from.display())));
        }
    };
    cleanup(candidate.path());
    candidate.persist_noclobber(target).map_err(|e| {
        Failed(EXIT_UNREADABLE, format!("cannot move the restored database into {}: {}", target.display(), e.error))
    })?;
    Ok(summary)
}

fn restore_postgres(out: &mut impl Write, from: &Path, url: &DatabaseUrl) -> Result<String, Failed> {
    let mut dump = tempfile::NamedTempFile::new().map_err(|e| format!("cannot create a temporary file: {e}"))?;
    extract_checked(from, dump.as_file_mut(), Backend::Postgres)?;
    let mut conn = open_existing(url)?;
    if db::has_tables(&mut conn).map_err(|e| e.to_string())? {
        return Err(Failed(
            EXIT_UNREADABLE,
            format!("{} already holds tables; restore only into an empty database", url.redacted()),
        ));
    }
    let before = db::objects::public_objects(&mut conn).map_err(|e| e.to_string())?;
    drop(conn);
    let restored = run_tool(
        std::process::Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "--single-transaction", "--dbname"])
            .arg(url.target())
            .arg(dump.path()),
        "pg_restore",
    )
    .map_err(Failed::from)
    .and_then(|()| {
        let mut conn = open_existing(url)?;
        db::migrate(&mut conn)?;
        verified(out, &mut conn)
    });
    match restored {
        Ok(summary) => Ok(summary),
        Err(Failed(code, e)) => {
            // pg_restore committed before the checks ran: take away what it added.
            let undone = open_existing(url)
                .and_then(|mut c| db::objects::drop_added(&mut c, &before).map_err(|e| e.to_string()));
            let tail = match undone {
                Ok(_) => "; the database is empty again".to_owned(),
                Err(u) => format!("; emptying the database again failed too ({u}): drop its tables before retrying"),
            };
            Err(Failed(code, format!("{} cannot be restored: {e}{tail}", from.display())))
        }
    }
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
