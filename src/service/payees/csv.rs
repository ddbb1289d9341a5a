//! The payee book as a CSV file: import (name, external_id, email, asset, address, tags), all or
//! nothing, every problem named by line and column; and export of the whole book.

use std::collections::HashMap;

use crate::db::{self, DbConnection};
use crate::domain::asset::{self, ASSETS, Asset};
use crate::domain::spreadsheet::safe_cell;
use crate::domain::{Address, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::payees::{PayeeForm, can_manage};

/// A payroll or a player list, not a registry of payouts: small files.
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_IMPORT_ROWS: usize = 5_000;
/// Problems listed in one answer; the rest are counted.
const MAX_LISTED: usize = 20;

const COLUMNS: [&str; 7] = ["name", "external_id", "email", "asset", "address", "tags", "invite"];

/// One checked line of an import.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub form: PayeeForm,
    /// Whether the file has a tags column; without one, a payee's tags stay as they are.
    pub has_tags: bool,
    /// The asset and canonical address, when the line gives one.
    pub address: Option<(&'static Asset, String)>,
    /// `invite` is yes: the payee is invited to their own page (at the line's email) once the
    /// import is in.
    pub invite: bool,
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
    /// Addresses entered, each pending a manager's approval.
    pub addresses: usize,
    /// The payees whose lines ask for an invitation to their own page, once each.
    pub to_invite: Vec<i64>,
}

/// Reads and checks a file; any problem refuses the whole file with every problem's line and
/// column.
pub fn parse(bytes: &[u8]) -> Result<Vec<ImportRow>, FieldErrors> {
    let fail = |m: String| FieldErrors::single("file", m);
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(fail(format!("The file is larger than {} MiB.", MAX_IMPORT_BYTES / (1024 * 1024))));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(fail("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and upload it again.".into()));
    };
    let text = text.replace("\r\n", "\n");
    let newlines: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
    let line_at = |offset: usize| -> u64 {
        // The csv reader places a record after empty lines at the first of them.
        let start = offset + text.as_bytes()[offset.min(text.len())..].iter().take_while(|b| **b == b'\n').count();
        newlines.partition_point(|&n| n < start) as u64 + 1
    };
    let first = text.lines().next().unwrap_or("");
    let delimiter = [b',', b';', b'\t'].into_iter().max_by_key(|d| first.matches(*d as char).count()).unwrap_or(b',');
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| fail(format!("The file could not be read: {e}")))?.clone();
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let column = |c: &str| names.iter().position(|n| n == c);
    if column("name").is_none() {
        return Err(fail(format!(
            "The first line must name the columns, with at least \"name\" (and any of {}).",
            COLUMNS[1..].join(", ")
        )));
    }
    if column("address").is_some() != column("asset").is_some() {
        return Err(fail(
            "Give \"asset\" and \"address\" columns together: an address is checked for its asset's network.".into(),
        ));
    }
    let mut rows = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(fail(format!("The file could not be read: {e}"))),
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(fail(format!("The file has more than {MAX_IMPORT_ROWS} payees; split it.")));
        }
        let line = record.position().map_or(0, |p| line_at(p.byte() as usize));
        let cell = |c: &str| column(c).and_then(|i| record.get(i)).unwrap_or("").to_owned();
        let form = PayeeForm {
            name: cell("name"),
            email: cell("email"),
            external_id: cell("external_id"),
            notes: String::new(),
            tags: cell("tags"),
        };
        if let Err(errors) = form.check() {
            problems.extend(errors.iter().map(|(field, m)| format!("Line {line}, column {field}: {m}")));
        }
        let (code, typed) = (cell("asset"), cell("address"));
        let address = match (code.trim(), typed.trim()) {
            ("", "") => None,
            (code, typed) => match asset::find(code) {
                None => {
                    let known: Vec<&str> = ASSETS.iter().map(|a| a.code).collect();
                    problems.push(format!("Line {line}, column asset: use one of {}.", known.join(", ")));
                    None
                }
                Some(a) => match Address::parse(a, typed) {
                    Ok(parsed) => Some((a, parsed.value)),
                    Err(m) => {
                        problems.push(format!("Line {line}, column address: {m}"));
                        None
                    }
                },
            },
        };
        let invite = match cell("invite").trim().to_ascii_lowercase().as_str() {
            "" | "no" | "false" | "0" => false,
            "yes" | "true" | "1" => true,
            _ => {
                problems.push(format!("Line {line}, column invite: write yes or no."));
                false
            }
        };
        if invite && form.email.trim().is_empty() {
            problems.push(format!(
                "Line {line}, column invite: the invitation goes to the payee's email; give it in column email."
            ));
        }
        rows.push(ImportRow { line, form, has_tags: column("tags").is_some(), address, invite });
    }
    if rows.is_empty() && problems.is_empty() {
        return Err(fail("The file has no payees below its header.".into()));
    }
    // One payee (by external id) cannot get two addresses on one network in one file.
    let mut seen: HashMap<(String, &str), (u64, &str)> = HashMap::new();
    for row in &rows {
        let key = row.form.external_id.trim();
        if let (false, Some((a, address))) = (key.is_empty(), &row.address) {
            match seen.get(&(key.to_owned(), a.network)) {
                Some((first, other)) if *other != address => problems.push(format!(
                    "Line {}, column address: line {first} gives {key} another {} address; keep one.",
                    row.line, a.network
                )),
                Some(_) => {}
                None => {
                    seen.insert((key.to_owned(), a.network), (row.line, address));
                }
            }
        }
    }
    if !problems.is_empty() {
        let count = problems.len();
        problems.truncate(MAX_LISTED);
        let mut text = problems.join(" ");
        if count > MAX_LISTED {
            text.push_str(&format!(" And {} more problems.", count - MAX_LISTED));
        }
        return Err(fail(text));
    }
    Ok(rows)
}

/// Imports a checked file in one transaction: a line whose external id names a payee updates
/// it (a line without one matches a payee of exactly that name when there is one, else adds
/// one); each address that differs from the payee's goes through change control, pending.
pub fn import(conn: &mut DbConnection, actor: &Actor, bytes: &[u8]) -> Result<Imported, AppError> {
    actor.require(can_manage)?;
    let rows = parse(bytes)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        // Every listed address named by its line, before anything is written.
        let with_address: Vec<(u64, &str)> =
            rows.iter().filter_map(|r| r.address.as_ref().map(|(_, a)| (r.line, a.as_str()))).collect();
        let addresses: Vec<&str> = with_address.iter().map(|(_, a)| *a).collect();
        let listed: Vec<String> = crate::service::compliance::listed(conn, &addresses)?
            .into_iter()
            .zip(&with_address)
            .filter_map(|(hit, (line, _))| hit.map(|h| format!("Line {line}, column address: {}", h.message())))
            .collect();
        if !listed.is_empty() {
            let count = listed.len();
            let mut text = listed.into_iter().take(MAX_LISTED).collect::<Vec<_>>().join(" ");
            if count > MAX_LISTED {
                text.push_str(&format!(" And {} more problems.", count - MAX_LISTED));
            }
            let mut errors = FieldErrors::new();
            errors.add_coded("file", crate::service::compliance::SANCTIONED, text);
            return Err(errors.into());
        }
        let mut done = Imported::default();
        let book = db::payees::all_in_org(conn, actor.org_id)?;
        let mut by_key: HashMap<String, i64> = HashMap::new();
        for row in rows {
            let key = match row.form.external_id.trim() {
                "" => format!("name:{}", row.form.name.trim()),
                id => format!("id:{id}"),
            };
            let found = by_key.get(&key).copied().or_else(|| match row.form.external_id.trim() {
                "" => {
                    let named: Vec<_> = book.iter().filter(|p| !p.archived && p.name == row.form.name.trim()).collect();
                    (named.len() == 1).then(|| named[0].id)
                }
                id => book.iter().find(|p| p.external_id == id).map(|p| p.id),
            });
            let id = match found {
                Some(id) => {
                    let p = book.iter().find(|p| p.id == id);
                    let tags = match (row.has_tags, p) {
                        (false, Some(p)) => crate::service::payees::tag_list(&p.tags).join(", "),
                        _ => row.form.tags.clone(),
                    };
                    let changed = p.is_some_and(|p| {
                        p.name != row.form.name.trim()
                            || (!row.form.email.trim().is_empty() && p.email != row.form.email.trim().to_lowercase())
                            || crate::service::payees::normalize_tags(&tags).is_ok_and(|t| t != p.tags)
                    });
                    if changed && !by_key.contains_key(&key) {
                        let notes = p.map(|p| p.notes.clone()).unwrap_or_default();
                        let email = if row.form.email.trim().is_empty() {
                            p.map(|p| p.email.clone()).unwrap_or_default()
                        } else {
                            row.form.email.clone()
                        };
                        crate::service::payees::update_in_tx(
                            conn,
                            actor,
                            id,
                            &PayeeForm { notes, email, tags, ..row.form.clone() },
                            at,
                        )?;
                        done.updated += 1;
                    }
                    id
                }
                None => {
                    done.created += 1;
                    crate::service::payees::create_in_tx(conn, actor, &row.form, at)?.id
                }
            };
            by_key.insert(key, id);
            if row.invite && !done.to_invite.contains(&id) {
                done.to_invite.push(id);
            }
            if let Some((a, address)) = &row.address {
                let payee = db::payees::lock_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
                if crate::service::payees::enter_checked_address(conn, actor, &payee, a, address, at)?.1 {
                    done.addresses += 1;
                }
            }
        }
        Ok(done)
    })
}

/// The whole book, archived payees included, one line per address that is pending or approved
/// (a payee without one has one line with no address).
pub fn export(conn: &mut DbConnection, actor: &Actor) -> Result<String, AppError> {
    let payees = db::payees::all_in_org(conn, actor.org_id)?;
    let addresses = db::payees::live_addresses_in_org(conn, actor.org_id)?;
    let at = actor.now();
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = ["name", "external_id", "email", "asset", "address", "network", "address_state", "archived", "tags"];
    out.write_record(header).map_err(|e| AppError::Internal(e.to_string()))?;
    for p in &payees {
        let mine: Vec<_> = addresses.iter().filter(|a| a.payee_id == p.id).collect();
        let archived = if p.archived { "yes" } else { "" };
        let tags = crate::service::payees::tag_list(&p.tags).join(", ");
        let mut write = |asset: &str, address: &str, network: &str, state: &str| {
            let cells = [&p.name, &p.external_id, &p.email, asset, address, network, state, archived, &tags];
            out.write_record(cells.iter().map(|c| safe_cell(c).into_owned()))
                .map_err(|e| AppError::Internal(e.to_string()))
        };
        if mine.is_empty() {
            write("", "", "", "")?;
        }
        for a in mine {
            // Any asset of the address's network imports it again to the same place.
            let code = ASSETS.iter().find(|x| x.network == a.network).map_or("", |x| x.code);
            let state = crate::service::payees::AddressState::of(a.status, a.payable_from, at).label();
            write(code, &a.address, &a.network, state)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| AppError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.to_string()))
}
