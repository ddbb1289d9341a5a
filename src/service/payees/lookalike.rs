//! Address poisoning: rows whose address is not one the organization knows (its payee book, the
//! rows it paid) but looks like one. Found through the key index (db/address_keys.rs), never by
//! comparing with every known address.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use crate::db::{self, DbConnection};
use crate::domain::lookalike::{self, Resemblance};
use crate::error::AppError;

/// Whose the resembled address is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// An address in the payee book of this payee.
    Payee(String),
    /// An address the organization paid, last by this payout's row.
    Paid { payout_id: i64, line: i32 },
}

/// A row whose address looks like a known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    pub line: u64,
    pub address: String,
    /// The known address it resembles.
    pub resembles: String,
    pub how: Resemblance,
    pub whose: Whose,
    /// When the resembled address was last paid, if ever.
    pub last_paid_at: Option<NaiveDateTime>,
}

impl Lookalike {
    /// "payee Alice Example's address" / "the address paid by payout #12, line 4".
    pub fn whose_words(&self) -> String {
        match &self.whose {
            Whose::Payee(name) => format!("payee {name}'s address"),
            Whose::Paid { payout_id, line } => format!("the address paid by payout #{payout_id}, line {line}"),
        }
    }

    /// "last paid 2026-11-30" / "never paid", in UTC.
    pub fn last_paid_words(&self) -> String {
        match self.last_paid_at {
            Some(t) => format!("last paid {}", t.format("%Y-%m-%d")),
            None => "never paid".to_owned(),
        }
    }

    /// As the API and the event stream show it.
    pub fn json(&self) -> crate::service::views::payouts::LookalikeJson {
        let (payee, paid_by_payout, paid_by_line) = match &self.whose {
            Whose::Payee(name) => (Some(name.clone()), None, None),
            Whose::Paid { payout_id, line } => (None, Some(*payout_id), Some(*line)),
        };
        crate::service::views::payouts::LookalikeJson {
            line: self.line,
            address: self.address.clone(),
            resembles: self.resembles.clone(),
            how: match self.how {
                Resemblance::SameEnds => "same_ends",
                Resemblance::Differs(_) => "near_copy",
            },
            payee,
            paid_by_payout,
            paid_by_line,
            last_paid_at: self.last_paid_at.map(crate::service::views::rfc3339),
            message: self.sentence(),
        }
    }

    /// One sentence naming the row, both addresses whole, whose, when, and where they differ.
    pub fn sentence(&self) -> String {
        let line = if self.line == 0 { String::new() } else { format!("Line {}: ", self.line) };
        format!(
            "{line}{} {} {} ({}, {}); they differ at {}.",
            self.address,
            self.how.words(),
            self.resembles,
            self.whose_words(),
            self.last_paid_words(),
            self.differing_places()
        )
    }

    /// The address whole and in runs, those that differ from the known one marked.
    pub fn address_marked(&self) -> lookalike::Marked {
        lookalike::marked_address(&self.address, &self.resembles)
    }

    /// The known address whole and in runs, those that differ from the row's marked.
    pub fn resembles_marked(&self) -> lookalike::Marked {
        lookalike::marked_address(&self.resembles, &self.address)
    }

    /// "characters 7–38": where the two differ, for text without marks.
    pub fn differing_places(&self) -> String {
        lookalike::differing_places(&self.address, &self.resembles)
    }
}

/// The rows (line, canonical address) whose address is a lookalike, by line.
pub fn find(conn: &mut DbConnection, org_id: i64, rows: &[(u64, &str)]) -> Result<Vec<Lookalike>, AppError> {
    let mut distinct: Vec<&str> = rows.iter().map(|(_, a)| *a).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let known: HashSet<String> = db::paid_addresses::known_among(conn, org_id, &distinct)?.into_iter().collect();
    let unknown: Vec<&str> = distinct.into_iter().filter(|a| !known.contains(*a)).collect();
    let best = resembling(conn, org_id, &unknown)?;
    let mut out: Vec<Lookalike> = rows
        .iter()
        .filter_map(|(line, address)| best.get(*address).map(|l| Lookalike { line: *line, ..l.clone() }))
        .collect();
    out.sort_by_key(|l| l.line);
    Ok(out)
}

/// The known address each of `unknown` resembles most (a payee's first, then the one paid
/// last), by address; line 0.
fn resembling(conn: &mut DbConnection, org_id: i64, unknown: &[&str]) -> Result<HashMap<String, Lookalike>, AppError> {
    let mut by_key: HashMap<String, Vec<&str>> = HashMap::new();
    for address in unknown {
        for key in lookalike::keys(address) {
            by_key.entry(key).or_default().push(address);
        }
    }
    let keys: Vec<&str> = by_key.keys().map(String::as_str).collect();
    // Each unknown address and the indexed addresses it resembles.
    let mut pairs: HashMap<&str, Vec<(String, Resemblance)>> = HashMap::new();
    for (key, candidate) in db::address_keys::under(conn, org_id, &keys)? {
        for address in by_key.get(&key).map(Vec::as_slice).unwrap_or_default() {
            if let Some(how) = lookalike::resemble(address, &candidate) {
                let seen = pairs.entry(address).or_default();
                if !seen.iter().any(|(c, _)| *c == candidate) {
                    seen.push((candidate.clone(), how));
                }
            }
        }
    }
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    // Indexed is not known: a candidate counts when it is in the book or was paid.
    let mut candidates: Vec<&str> = pairs.values().flatten().map(|(c, _)| c.as_str()).collect();
    candidates.sort_unstable();
    candidates.dedup();
    let book: HashMap<String, String> = db::payees::in_book(conn, org_id, &candidates)?.into_iter().collect();
    let paid: HashMap<String, (i64, i32, NaiveDateTime)> = db::paid_addresses::last_paid(conn, org_id, &candidates)?
        .into_iter()
        .map(|(a, p, l, t)| (a, (p, l, t)))
        .collect();
    let best: HashMap<String, Lookalike> = pairs
        .iter()
        .filter_map(|(address, found)| {
            let mut options: Vec<Lookalike> = found
                .iter()
                .filter_map(|(candidate, how)| {
                    let last = paid.get(candidate);
                    let whose = match (book.get(candidate), last) {
                        (Some(name), _) => Whose::Payee(name.clone()),
                        (None, Some((payout_id, line, _))) => Whose::Paid { payout_id: *payout_id, line: *line },
                        (None, None) => return None,
                    };
                    Some(Lookalike {
                        line: 0,
                        address: (*address).to_owned(),
                        resembles: candidate.clone(),
                        how: *how,
                        whose,
                        last_paid_at: last.map(|(_, _, t)| *t),
                    })
                })
                .collect();
            // A payee's address first, then the one paid last: what the person most likely meant.
            options.sort_by(|a, b| {
                let rank = |l: &Lookalike| (!matches!(l.whose, Whose::Payee(_)), std::cmp::Reverse(l.last_paid_at));
                rank(a).cmp(&rank(b)).then_with(|| a.resembles.cmp(&b.resembles))
            });
            options.into_iter().next().map(|l| ((*address).to_owned(), l))
        })
        .collect();
    Ok(best)
}

/// The known address each entered payee address resembles (address change control: an address
/// entered for a payee that looks like another known address, or like the payee's own), by address.
pub fn for_entries(
    conn: &mut DbConnection,
    org_id: i64,
    entered: &[&str],
) -> Result<HashMap<String, Lookalike>, AppError> {
    resembling(conn, org_id, entered)
}

/// [`find`] for the organization of this name (the command line's `check-registry --org`).
pub fn in_org_named(conn: &mut DbConnection, org_name: &str, rows: &[(u64, &str)]) -> Result<Vec<Lookalike>, String> {
    let org = db::orgs::find_by_name(conn, org_name.trim())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no organization named {:?}", org_name.trim()))?;
    find(conn, org.id, rows).map_err(|e| e.to_string())
}

/// Indexes addresses the organization now holds (a payee address entered) or paid (a row
/// completed), so later rows are compared with them.
pub fn remember(conn: &mut DbConnection, org_id: i64, addresses: &[&str]) -> Result<(), AppError> {
    Ok(db::address_keys::remember(conn, org_id, addresses)?)
}
