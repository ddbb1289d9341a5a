//! Screening addresses against the lists in force: each address put in its compared form and
//! probed in the database's index, so that a request costs the same whatever the lists hold.

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::registry::{Issue, Row};
use crate::domain::sanctions::normalize;
use crate::domain::validation::FORM;
use crate::error::AppError;

/// The code the API sends with an error about a listed address.
pub const SANCTIONED: &str = "sanctioned";

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

/// Evidence of one screening: when, and against which list versions.
#[derive(Debug, Clone)]
pub struct Screening {
    pub at: NaiveDateTime,
    pub lists: Vec<(String, i32)>,
}

impl Screening {
    /// As a row keeps it: `{"at": …, "lists": [{"name": …, "version": …}]}`.
    pub fn evidence(&self) -> String {
        let lists: Vec<_> =
            self.lists.iter().map(|(name, version)| json!({"name": name, "version": version})).collect();
        json!({"at": self.at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "lists": lists}).to_string()
    }

    /// A row's evidence in words: "2026-12-07 13:00 UTC against OFAC SDN v3, ours v1".
    pub fn describe(evidence: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(evidence).unwrap_or_default();
        let at = v["at"].as_str().unwrap_or_default().replace('T', " ").replace('Z', " UTC");
        let lists: Vec<String> = v["lists"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .map(|l| {
                        format!("{} v{}", l["name"].as_str().unwrap_or_default(), l["version"].as_i64().unwrap_or(0))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if lists.is_empty() { format!("{at}, no list in force") } else { format!("{at} against {}", lists.join(", ")) }
    }
}

/// For each of `addresses`, the list in force that holds it, if any, and the screening's evidence.
pub fn screen(
    conn: &mut DbConnection,
    addresses: &[&str],
    at: NaiveDateTime,
) -> Result<(Vec<Option<Listed>>, Screening), AppError> {
    let lists = db::sanctions::in_force(conn)?;
    let forms: Vec<String> = addresses.iter().map(|a| normalize(a)).collect();
    let refs: Vec<&str> = forms.iter().map(String::as_str).collect();
    let hits = db::sanctions::hits(conn, &lists, &refs)?;
    let found = forms
        .iter()
        .map(|f| {
            hits.iter().find(|h| &h.address == f).map(|h| Listed { list: h.list.clone(), entity: h.entity.clone() })
        })
        .collect();
    Ok((found, Screening { at, lists }))
}

/// For each of `addresses`, the list in force that holds it, if any.
pub fn listed(conn: &mut DbConnection, addresses: &[&str]) -> Result<Vec<Option<Listed>>, AppError> {
    Ok(screen(conn, addresses, NaiveDateTime::default())?.0)
}

/// Marks each valid row whose address a list holds with an error on its address: the row can
/// be shown, never paid.
pub fn mark_rows(conn: &mut DbConnection, rows: &mut [Row]) -> Result<(), AppError> {
    mark_rows_at(conn, rows, NaiveDateTime::default()).map(drop)
}

/// [`mark_rows`], with the screening's evidence as of `at`: inside the transaction that writes
/// the payout, rows left unmarked were screened against the lists as they are then.
pub fn mark_rows_at(conn: &mut DbConnection, rows: &mut [Row], at: NaiveDateTime) -> Result<Screening, AppError> {
    let addresses: Vec<&str> = rows.iter().filter(|r| r.is_valid()).map(|r| r.address.as_str()).collect();
    let (found, screening) = screen(conn, &addresses, at)?;
    let mut found = found.into_iter();
    for row in rows.iter_mut().filter(|r| r.is_valid()) {
        if let Some(hit) = found.next().flatten() {
            row.errors.push(Issue::coded("address", SANCTIONED, hit.message()));
        }
    }
    Ok(screening)
}

/// Refuses (line, address) rows any list holds, naming each line: decided again inside the
/// transaction that writes a payout or an address, against the lists as they are then. The
/// screening's evidence when none is listed.
pub fn refuse_listed(conn: &mut DbConnection, rows: &[(u64, &str)], at: NaiveDateTime) -> Result<Screening, AppError> {
    let addresses: Vec<&str> = rows.iter().map(|(_, a)| *a).collect();
    let (found, screening) = screen(conn, &addresses, at)?;
    let mut messages: Vec<String> = Vec::new();
    for ((line, _), hit) in rows.iter().zip(&found) {
        if let Some(hit) = hit {
            messages.push(if rows.len() == 1 { hit.message() } else { format!("Line {line}: {}", hit.message()) });
        }
    }
    match messages.len() {
        0 => Ok(screening),
        1 if rows.len() == 1 => Err(FieldErrors::single_coded("address", SANCTIONED, messages.remove(0)).into()),
        n => {
            let more = if n > 5 { format!(" And {} more rows.", n - 5) } else { String::new() };
            messages.truncate(5);
            let mut errors = FieldErrors::new();
            errors.add_coded(FORM, SANCTIONED, format!("{}{more} Remove those rows.", messages.join(" ")));
            Err(errors.into())
        }
    }
}
