//! A backup file: a short text header (what made it, which database, how many bytes, their
//! SHA-256) and then the database's own copy (an SQLite file, or `pg_dump`'s custom format).
//! Restore checks the checksum before anything touches the target: one changed byte anywhere in
//! the copy and the file is refused.
//!
//! ```text
//! PAYOUTS-BACKUP 1
//! product: payouts 0.1.0
//! database: sqlite
//! created: 2026-12-06T21:45:00Z
//! bytes: 1048576
//! sha256: 9f86d0…
//!
//! <the copy>
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::db::Backend;

const MAGIC: &str = "PAYOUTS-BACKUP 1";
/// A header is a handful of short lines; anything longer is not one of ours.
const MAX_HEADER_BYTES: u64 = 4096;

/// What a backup's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub product: String,
    pub backend: Backend,
    pub created: String,
    pub bytes: u64,
    pub sha256: String,
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The SHA-256 and length of a file's bytes, read once.
pub fn digest_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// Writes the header for `copy` (a finished database copy) and the copy itself into `out`.
pub fn write(out: &mut std::fs::File, copy: &Path, backend: Backend, created: &str) -> Result<Header, String> {
    let (sha256, bytes) = digest_of(copy).map_err(|e| format!("cannot read the copy: {e}"))?;
    let header = Header {
        product: format!("payouts {}", env!("CARGO_PKG_VERSION")),
        backend,
        created: created.to_owned(),
        bytes,
        sha256,
    };
    let text = format!(
        "{MAGIC}\nproduct: {}\ndatabase: {}\ncreated: {}\nbytes: {}\nsha256: {}\n\n",
        header.product,
        backend_name(backend),
        header.created,
        header.bytes,
        header.sha256
    );
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| std::io::copy(&mut std::fs::File::open(copy)?, out))
        .and_then(|n| out.sync_all().map(|()| n));
    match written {
        Ok(n) if n == bytes => Ok(header),
        Ok(n) => Err(format!("the copy changed while it was written ({n} of {bytes} bytes)")),
        Err(e) => Err(format!("cannot write the backup: {e}")),
    }
}

/// Reads a backup's header, then copies its database into `into` while checking the length and
/// the checksum. Nothing is trusted before both match.
pub fn extract(from: &Path, into: &mut std::fs::File) -> Result<Header, String> {
    let file = std::fs::File::open(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let mut reader = BufReader::new(file);
    let header = read_header(&mut reader, from)?;
    let mut hasher = Sha256::new();
    let mut limited = (&mut reader).take(header.bytes);
    let mut buf = vec![0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        let n = limited.read(&mut buf).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        into.write_all(&buf[..n]).map_err(|e| format!("cannot write the restored copy: {e}"))?;
        copied += n as u64;
    }
    let trailing = reader.read(&mut [0u8; 1]).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    if copied != header.bytes || trailing != 0 {
        return Err(format!(
            "{} is not whole: its header says {} bytes, the file holds {}{}",
            from.display(),
            header.bytes,
            copied,
            if trailing != 0 { " and more after them" } else { "" }
        ));
    }
    let actual = hex::encode(hasher.finalize());
    if actual != header.sha256 {
        return Err(format!(
            "{} does not match its checksum (SHA-256 {} written, {} now): it was changed or damaged after the \
             backup was made; nothing was restored",
            from.display(),
            header.sha256,
            actual
        ));
    }
    into.sync_all().map_err(|e| format!("cannot write the restored copy: {e}"))?;
    Ok(header)
}

fn read_header(reader: &mut impl BufRead, from: &Path) -> Result<Header, String> {
    let not_ours = || {
        format!(
            "{} is not a payouts backup (made by `payouts backup`, starting with \"{MAGIC}\"); a file from an older \
             version without a checksum is restored by hand (README: Backups)",
            from.display()
        )
    };
    let mut text = String::new();
    let mut limited = reader.take(MAX_HEADER_BYTES);
    loop {
        let before = text.len();
        let n = limited.read_line(&mut text).map_err(|_| not_ours())?;
        if n == 0 {
            return Err(not_ours());
        }
        if text[before..].trim_end_matches('\n').is_empty() {
            break;
        }
    }
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(not_ours());
    }
    let fields: Vec<(&str, &str)> = lines.filter_map(|l| l.split_once(": ")).collect();
    let field = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    let backend = match field("database").as_deref() {
        Some("sqlite") => Backend::Sqlite,
        Some("postgres") => Backend::Postgres,
        _ => return Err(not_ours()),
    };
    let sha256 = field("sha256").filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    let bytes = field("bytes").and_then(|b| b.parse::<u64>().ok());
    match (sha256, bytes) {
        (Some(sha256), Some(bytes)) => Ok(Header {
            product: field("product").unwrap_or_default(),
            backend,
            created: field("created").unwrap_or_default(),
            bytes,
            sha256: sha256.to_ascii_lowercase(),
        }),
        _ => Err(not_ours()),
    }
}

/// The product version a header names, when it is newer than this program: its database may
/// hold changes this program does not know.
pub fn newer_than_this(header: &Header) -> Option<String> {
    let parse = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse().ok()).collect() };
    let theirs = header.product.strip_prefix("payouts ")?;
    match (parse(theirs), parse(env!("CARGO_PKG_VERSION"))) {
        (Some(t), Some(o)) if t > o => Some(theirs.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup_of(content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy");
        std::fs::write(&copy, content).unwrap();
        let path = dir.path().join("backup");
        let mut out = std::fs::File::create(&path).unwrap();
        write(&mut out, &copy, Backend::Sqlite, "2026-12-06T00:00:00Z").unwrap();
        (dir, path)
    }

    #[test]
    fn a_backup_reads_back_byte_for_byte() {
        let (dir, path) = backup_of(b"SQLite format 3\0 and the rest");
        let mut out = tempfile::tempfile_in(dir.path()).unwrap();
        let header = extract(&path, &mut out).unwrap();
        assert_eq!(header.bytes, 29);
        assert_eq!(header.backend, Backend::Sqlite);
        let mut back = Vec::new();
        std::io::Seek::rewind(&mut out).unwrap();
        out.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"SQLite format 3\0 and the rest");
    }

    #[test]
    fn one_changed_byte_anywhere_is_refused() {
        let (dir, path) = backup_of(b"SQLite format 3\0 amount 100");
        let original = std::fs::read(&path).unwrap();
        let body = original.len() - 3;
        for at in [body, original.len() - 1] {
            let mut changed = original.clone();
            changed[at] ^= 1;
            std::fs::write(&path, &changed).unwrap();
            let err = extract(&path, &mut tempfile::tempfile_in(dir.path()).unwrap()).unwrap_err();
            assert!(err.contains("does not match its checksum"), "{err}");
        }
        let mut longer = original.clone();
        longer.push(b'x');
        std::fs::write(&path, &longer).unwrap();
        let err = extract(&path, &mut tempfile::tempfile_in(dir.path()).unwrap()).unwrap_err();
        assert!(err.contains("not whole"), "{err}");
        std::fs::write(&path, &original[..original.len() - 1]).unwrap();
        let err = extract(&path, &mut tempfile::tempfile_in(dir.path()).unwrap()).unwrap_err();
        assert!(err.contains("not whole"), "{err}");
        std::fs::write(&path, b"SQLite format 3\0 an old unchecked copy").unwrap();
        let err = extract(&path, &mut tempfile::tempfile_in(dir.path()).unwrap()).unwrap_err();
        assert!(err.contains("is not a payouts backup"), "{err}");
    }
}
