//! Screening addresses against the lists in force: each address put in its compared form and
//! probed in the database's index, so that a request costs the same whatever the lists hold.

use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::registry::{Issue, Row};
use crate::domain::sanctions::normalize;
use crate::error::AppError;

/// An address a list in force holds.
#[derive(Debug, Clone)]
pub struct Listed {
    pub list: String,
    pub entity: String,
}

impl Listed {
    /// What a person is told: the list, and who it names.
    pub fn message(&self) -> String {
        let whom = if self.entity.is_empty() { String::new() } else { format!(" ({})", self.entity) };
        format!(
            "This address is on the sanctions list \"{}\"{whom}: it cannot be paid, and no approval or \
             acknowledgement changes that.",
            self.list
        )
    }
}

/// For each of `addresses`, the list in force that holds it, if any.
pub fn listed(conn: &mut DbConnection, addresses: &[&str]) -> Result<Vec<Option<Listed>>, AppError> {
    let forms: Vec<String> = addresses.iter().map(|a| normalize(a)).collect();
    let refs: Vec<&str> = forms.iter().map(String::as_str).collect();
    let hits = db::sanctions::hits(conn, &refs)?;
    Ok(forms
        .iter()
        .map(|f| {
            hits.iter().find(|h| &h.address == f).map(|h| Listed { list: h.list.clone(), entity: h.entity.clone() })
        })
        .collect())
}

/// Marks each valid row whose address a list holds with an error on its address: the row can
/// be shown, never paid.
pub fn mark_rows(conn: &mut DbConnection, rows: &mut [Row]) -> Result<(), AppError> {
    let addresses: Vec<&str> = rows.iter().filter(|r| r.is_valid()).map(|r| r.address.as_str()).collect();
    let mut found = listed(conn, &addresses)?.into_iter();
    for row in rows.iter_mut().filter(|r| r.is_valid()) {
        if let Some(hit) = found.next().flatten() {
            row.errors.push(Issue::new("address", hit.message()));
        }
    }
    Ok(())
}

/// Refuses (line, address) rows any list holds, naming each line: decided again inside the
/// transaction that writes a payout or an address, against the lists as they are then.
pub fn refuse_listed(conn: &mut DbConnection, rows: &[(u64, &str)]) -> Result<(), AppError> {
    let addresses: Vec<&str> = rows.iter().map(|(_, a)| *a).collect();
    let found = listed(conn, &addresses)?;
    let mut messages: Vec<String> = Vec::new();
    for ((line, _), hit) in rows.iter().zip(&found) {
        if let Some(hit) = hit {
            messages.push(if rows.len() == 1 { hit.message() } else { format!("Line {line}: {}", hit.message()) });
        }
    }
    match messages.len() {
        0 => Ok(()),
        1 if rows.len() == 1 => Err(FieldErrors::single("address", messages.remove(0)).into()),
        n => {
            let more = if n > 5 { format!(" And {} more rows.", n - 5) } else { String::new() };
            messages.truncate(5);
            Err(FieldErrors::form(format!("{}{more} Remove those rows.", messages.join(" "))).into())
        }
    }
}
