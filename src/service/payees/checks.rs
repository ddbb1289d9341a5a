//! What a payout asks of the book, inside its transaction: is this address payable, whose is it,
//! and what should a person look at twice.

use chrono::NaiveDateTime;

use crate::db::payees::{PayeeAddressRow, PayeeRow};
use crate::db::{self, DbConnection};
use crate::domain::asset::Asset;
use crate::domain::payee::AddressStatus;
use crate::domain::{Address, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;

use super::*;

/// Refuses payout rows whose address is a payee's address that is not payable yet (awaiting
/// approval, or cooling off). Called inside the transaction that writes the payout, so an
/// address entered a moment ago is seen. `rows` are (line, canonical address). Returns the
/// payee of each payable address, by address, for the rows to be linked to.
pub fn check_payable(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    rows: &[(u64, &str)],
    at: NaiveDateTime,
) -> Result<std::collections::HashMap<String, i64>, AppError> {
    let addresses: Vec<&str> = rows.iter().map(|(_, a)| *a).collect();
    let found = db::payees::matching(conn, org_id, asset.network, &addresses)?;
    let blocked: Vec<(&PayeeAddressRow, &str)> = found
        .iter()
        .filter(|(a, _)| {
            matches!(AddressState::of(a.status, a.payable_from, at), AddressState::Pending | AddressState::CoolingOff)
        })
        .map(|(a, name)| (a, name.as_str()))
        .collect();
    if blocked.is_empty() {
        return Ok(found
            .iter()
            .filter(|(a, _)| AddressState::of(a.status, a.payable_from, at) == AddressState::Payable)
            .map(|(a, _)| (a.address.clone(), a.payee_id))
            .collect());
    }
    let mut messages = Vec::new();
    for (line, address) in rows {
        if let Some((a, name)) = blocked.iter().find(|(a, _)| a.address == *address) {
            let why = match a.payable_from {
                Some(t) if a.status == AddressStatus::Approved => {
                    format!("is cooling off after approval and becomes payable at {} UTC", t.format("%Y-%m-%d %H:%M"))
                }
                _ => "is awaiting a manager's approval".to_owned(),
            };
            messages.push(format!("Line {line}: this address of payee {name} {why}."));
        }
    }
    let count = messages.len();
    messages.truncate(5);
    let mut text = messages.join(" ");
    if count > 5 {
        text.push_str(&format!(" And {} more rows.", count - 5));
    }
    if rows.len() == 1 {
        let single = text.trim_start_matches("Line 1: ").to_owned();
        return Err(
            FieldErrors::single("address", format!("{} Pay it once it is payable.", capitalize(&single))).into()
        );
    }
    Err(FieldErrors::form(format!("{text} Remove those rows or wait until their addresses are payable.")).into())
}

/// The address each payout item pays, for items that name a payee: the payee's approved
/// address on the asset's network when the item gives none, and the item's own when it is that
/// address. Items are (payee id, address as typed); the answer is per item, the address to
/// check or what is wrong with the payee. Read inside the transaction that writes the payout.
pub fn addresses_for_items(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    items: &[(Option<i64>, &str)],
) -> Result<Vec<Result<String, String>>, AppError> {
    let mut ids: Vec<i64> = items.iter().filter_map(|(p, _)| *p).collect();
    ids.sort_unstable();
    ids.dedup();
    let (payees, addresses) = if ids.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        db::payees::with_addresses(conn, org_id, &ids, asset.network)?
    };
    let by_id: std::collections::HashMap<i64, &PayeeRow> = payees.iter().map(|p| (p.id, p)).collect();
    let mut of_payee: std::collections::HashMap<i64, Vec<&PayeeAddressRow>> = std::collections::HashMap::new();
    for a in &addresses {
        of_payee.entry(a.payee_id).or_default().push(a);
    }
    Ok(items
        .iter()
        .map(|(payee_id, typed)| {
            let Some(id) = payee_id else { return Ok((*typed).to_owned()) };
            let payee = by_id.get(id).ok_or_else(|| format!("There is no payee {id}."))?;
            if payee.archived {
                return Err(format!("Payee {} is archived; restore it to pay it.", payee.name));
            }
            let mine = of_payee.get(id).map(Vec::as_slice).unwrap_or_default().iter();
            let Some(approved) = mine.clone().find(|a| a.status == AddressStatus::Approved) else {
                return Err(if mine.clone().any(|a| a.status == AddressStatus::Pending) {
                    format!("Payee {}'s {} address is awaiting a manager's approval.", payee.name, asset.network)
                } else {
                    format!("Payee {} has no {} address; enter one first.", payee.name, asset.network)
                });
            };
            if typed.trim().is_empty() {
                return Ok(approved.address.clone());
            }
            match Address::parse(asset, typed) {
                Ok(a) if a.value != approved.address => Err(format!(
                    "The address is not payee {}'s approved {} address ({}); leave it empty to pay that one.",
                    payee.name, asset.network, approved.address
                )),
                // An invalid address is named by the address check.
                _ => Ok((*typed).to_owned()),
            }
        })
        .collect())
}

/// Warns on each valid row whose reference is a payee's external id while its address is not
/// one of that payee's: a spreadsheet whose address was changed beside a known employee number
/// is how a swapped address slips in. `linked` are the addresses that belong to a payee.
pub fn mark_foreign_references(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    rows: &mut [crate::domain::registry::Row],
    linked: &std::collections::HashMap<String, String>,
) -> Result<(), AppError> {
    let mut refs: Vec<&str> = rows
        .iter()
        .filter(|r| r.is_valid() && !r.reference.is_empty() && !linked.contains_key(&r.address))
        .map(|r| r.reference.as_str())
        .collect();
    if refs.is_empty() {
        return Ok(());
    }
    refs.sort_unstable();
    refs.dedup();
    let found = db::payees::by_external_ids(conn, org_id, &refs)?;
    if found.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = found.iter().map(|p| p.id).collect();
    let (_, addresses) = db::payees::with_addresses(conn, org_id, &ids, asset.network)?;
    let by_reference: std::collections::HashMap<&str, &PayeeRow> =
        found.iter().map(|p| (p.external_id.as_str(), p)).collect();
    let approved: std::collections::HashMap<i64, &str> = addresses
        .iter()
        .filter(|a| a.status == AddressStatus::Approved)
        .map(|a| (a.payee_id, a.address.as_str()))
        .collect();
    for row in rows.iter_mut().filter(|r| r.is_valid() && !linked.contains_key(&r.address)) {
        let Some(p) = by_reference.get(row.reference.as_str()) else { continue };
        let message = match approved.get(&p.id) {
            Some(a) => format!(
                "{} is payee {}, whose approved address is {}; this row pays another address.",
                p.external_id, p.name, a
            ),
            None => format!(
                "{} is payee {}, who has no approved {} address; this row pays an address that is not theirs.",
                p.external_id, p.name, asset.network
            ),
        };
        row.warnings.push(crate::domain::registry::Issue::new("reference", message));
    }
    Ok(())
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What a person should look at twice in a payout's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFlag {
    pub line: u64,
    pub address: String,
    /// The payee whose payable address this is.
    pub payee: Option<String>,
    /// No completed row of this organization has paid this address.
    pub first_payment: bool,
    /// The address the payee's last paid row went to, when it was another.
    pub changed_from: Option<String>,
    /// A known address this unknown one looks like (address poisoning).
    pub lookalike: Option<super::Lookalike>,
}

/// The flagged rows of a payout or draft, and how many carry each flag.
#[derive(Debug, Clone, Default)]
pub struct AddressFlags {
    /// By line.
    pub rows: Vec<AddressFlag>,
    pub first: usize,
    pub changed: usize,
    /// Rows whose address looks like a known one.
    pub lookalikes: usize,
    /// The payee each looked-up address belongs to (pending or approved), by address.
    pub names: std::collections::HashMap<String, String>,
}

impl AddressFlags {
    pub fn any(&self) -> bool {
        !self.rows.is_empty()
    }

    /// The lookalike rows, by line.
    pub fn lookalike_rows(&self) -> impl Iterator<Item = &super::Lookalike> {
        self.rows.iter().filter_map(|f| f.lookalike.as_ref())
    }

    /// The flagged rows a page lists: every lookalike, then the others up to `limit` rows.
    pub fn shown(&self, limit: usize) -> Vec<&AddressFlag> {
        let lookalikes = self.rows.iter().filter(|f| f.lookalike.is_some());
        let others = self.rows.iter().filter(|f| f.lookalike.is_none()).take(limit.saturating_sub(self.lookalikes));
        lookalikes.chain(others).collect()
    }

    /// A line's flag: a binary search, as pages ask for each of up to 50,000 rows.
    pub fn of_line(&self, line: u64) -> Option<&AddressFlag> {
        self.rows.binary_search_by_key(&line, |f| f.line).ok().map(|i| &self.rows[i])
    }
}

/// Marks rows paying an address this organization never paid, rows paying a payee at an
/// address other than the one their last payout went to (old → new), and rows whose address
/// looks like a known one. A payout waiting for approval has paid nothing yet, so its own rows
/// never count as paid. Each lookup is by key (`paid_addresses`, `payee_last_paid`).
pub fn address_flags(
    conn: &mut DbConnection,
    actor: &Actor,
    asset: &'static Asset,
    rows: &[(u64, &str)],
) -> Result<AddressFlags, AppError> {
    let (org_id, at) = (actor.org_id, actor.now());
    let mut distinct: Vec<&str> = rows.iter().map(|(_, a)| *a).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let paid: std::collections::HashSet<String> =
        db::paid_addresses::paid_among(conn, org_id, &distinct)?.into_iter().collect();
    let found = db::payees::matching(conn, org_id, asset.network, &distinct)?;
    let names = found.iter().map(|(a, name)| (a.address.clone(), name.clone())).collect();
    let payees: std::collections::HashMap<String, (i64, String)> = found
        .into_iter()
        .filter(|(a, _)| AddressState::of(a.status, a.payable_from, at) == AddressState::Payable)
        .map(|(a, name)| (a.address, (a.payee_id, name)))
        .collect();
    let ids: Vec<i64> = payees.values().map(|(id, _)| *id).collect();
    let last: std::collections::HashMap<i64, String> =
        db::paid_addresses::last_paid_by_payee(conn, org_id, &ids)?.into_iter().collect();
    let mut lookalikes: std::collections::HashMap<u64, super::Lookalike> =
        super::lookalike::find(conn, org_id, rows)?.into_iter().map(|l| (l.line, l)).collect();
    let mut flags = AddressFlags { names, ..AddressFlags::default() };
    for (line, address) in rows {
        let payee = payees.get(*address);
        let first_payment = !paid.contains(*address);
        let changed_from = payee.and_then(|(id, _)| last.get(id)).filter(|old| old.as_str() != *address).cloned();
        let lookalike = lookalikes.remove(line);
        if first_payment || changed_from.is_some() || lookalike.is_some() {
            flags.first += usize::from(first_payment);
            flags.changed += usize::from(changed_from.is_some());
            flags.lookalikes += usize::from(lookalike.is_some());
            flags.rows.push(AddressFlag {
                line: *line,
                address: (*address).to_owned(),
                payee: payee.map(|(_, name)| name.clone()),
                first_payment,
                changed_from,
                lookalike,
            });
        }
    }
    flags.rows.sort_by_key(|f| f.line);
    Ok(flags)
}

/// The approved address on `asset`'s network of each payee the items were linked to (still
/// cooling off, it is refused at confirm with the time it becomes payable: paying the replaced
/// one instead would pay where the payee said not to).
pub fn current_addresses(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    items: &[crate::db::payouts::ItemRow],
) -> Result<std::collections::HashMap<i64, String>, AppError> {
    let mut out = std::collections::HashMap::new();
    let mut ids: Vec<i64> = items.iter().filter_map(|i| i.payee_id).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let payable = db::payees::addresses_of(conn, id)?
            .into_iter()
            .find(|a| a.org_id == org_id && a.network == asset.network && a.status == AddressStatus::Approved);
        if let Some(a) = payable {
            out.insert(id, a.address);
        }
    }
    Ok(out)
}

/// What stops a claim to each payee (None when nothing): a claim asks the payee for their
/// address by email, so the payee must be in the book, not archived, and have an email. Read
/// inside the transaction that writes the payout (and by the API's check, to name the item).
pub fn claim_problems(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    payee_ids: &[i64],
) -> Result<Vec<Option<String>>, AppError> {
    let mut ids = payee_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let (payees, _) = if ids.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        db::payees::with_addresses(conn, org_id, &ids, asset.network)?
    };
    Ok(payee_ids
        .iter()
        .map(|id| match payees.iter().find(|p| p.id == *id) {
            None => Some(format!("There is no payee {id}.")),
            Some(p) if p.archived => Some(format!("Payee {} is archived; restore it to pay it.", p.name)),
            Some(p) if p.email.is_empty() => {
                Some(format!("Payee {} has no email: a claim asks the payee for their address by email.", p.name))
            }
            Some(_) => None,
        })
        .collect())
}

/// The address a claim to `payee_id` is paid at: the payee's approved address on the asset's
/// network once it is payable (past its cooling-off), or None while there is none.
pub fn claim_address(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    payee_id: i64,
    at: NaiveDateTime,
) -> Result<Option<PayeeAddressRow>, AppError> {
    let (payees, addresses) = db::payees::with_addresses(conn, org_id, &[payee_id], asset.network)?;
    if payees.first().is_none_or(|p| p.archived) {
        return Ok(None);
    }
    Ok(addresses
        .into_iter()
        .find(|a| a.payee_id == payee_id && AddressState::of(a.status, a.payable_from, at) == AddressState::Payable))
}
