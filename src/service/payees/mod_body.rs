//! Payees: a recipient book whose addresses are under change control. A new or changed address
//! is pending until a manager other than the person who entered it approves it, and then waits
//! the organization's cooling-off period before a payout may pay it: a swapped address is the
//! classic payroll fraud, and in crypto it cannot be undone.

use chrono::NaiveDateTime;

use crate::clock::now;
use crate::db::payees::{NewPayeeAddressRow, NewPayeeRow, PayeeAddressRow, PayeeRow};
use crate::db::{self, DbConnection};
use crate::domain::account::{Role, normalize_email};
use crate::domain::asset::{self, Asset};
use crate::domain::event::PAYEE_ADDRESS_CHANGED;
use crate::domain::registry::check_text;
use crate::domain::{Address, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

pub use crate::domain::payee::{AddressState, MAX_TAG_CHARS, MAX_TAGS, normalize_tags, tag_list};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_EXTERNAL_ID_CHARS: usize = 100;
pub const MAX_NOTES_CHARS: usize = 2000;
/// The longest cooling-off period an organization may set: 30 days.
pub const MAX_COOLING_OFF_MINUTES: i32 = 30 * 24 * 60;

/// Accountants keep the book (they pay from it); admins may too. Managers approve addresses.
pub fn can_manage(role: Role) -> bool {
    matches!(role, Role::Accountant | Role::Admin)
}

/// What a person types for a payee; strings as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PayeeForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub external_id: String,
    #[serde(default)]
    pub notes: String,
    /// Comma-separated, as typed: `employees, Berlin`.
    #[serde(default)]
    pub tags: String,
}

pub(crate) struct CheckedPayee {
    name: String,
    email: String,
    external_id: String,
    notes: String,
    /// Stored form: `,employees,berlin,`.
    tags: String,
}

fn too_long(what: &str, max: usize) -> String {
    format!("{what} has at most {max} characters.")
}

impl PayeeForm {
    pub(crate) fn check(&self) -> Result<CheckedPayee, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.add("name", "Enter the payee's name, as it should appear on payouts and statements.");
        } else if name.chars().count() > MAX_NAME_CHARS {
            errors.add("name", too_long("A name", MAX_NAME_CHARS));
        } else if let Err(m) = check_text(name, MAX_NAME_CHARS) {
            errors.add("name", m);
        }
        let email = match self.email.trim() {
            "" => String::new(),
            e if e.len() > 254 => {
                errors.add("email", "An email address has at most 254 characters.");
                String::new()
            }
            e => normalize_email(e).map_err(|m| errors.add("email", m)).unwrap_or_default(),
        };
        if let Err(m) = check_text(&email, 254) {
            errors.add("email", m);
        }
        let external_id = self.external_id.trim();
        if external_id.chars().count() > MAX_EXTERNAL_ID_CHARS {
            errors.add("external_id", too_long("An external id", MAX_EXTERNAL_ID_CHARS));
        } else if let Err(m) = check_text(external_id, MAX_EXTERNAL_ID_CHARS) {
            errors.add("external_id", m);
        }
        if self.notes.chars().count() > MAX_NOTES_CHARS {
            errors.add("notes", too_long("Notes", MAX_NOTES_CHARS));
        } else if let Err(m) = self.notes.lines().try_for_each(|line| check_text(line, MAX_NOTES_CHARS)) {
            // Notes keep their line breaks; nothing else invisible.
            errors.add("notes", m);
        }
        let tags = normalize_tags(&self.tags).map_err(|m| errors.add("tags", m)).unwrap_or_default();
        errors.into_result(())?;
        Ok(CheckedPayee {
            name: name.to_owned(),
            email,
            external_id: external_id.to_owned(),
            notes: self.notes.trim().to_owned(),
            tags,
        })
    }
}

fn taken_external_id(e: db::DbError) -> AppError {
    if db::is_unique_violation(&e) {
        FieldErrors::single("external_id", "Another payee already has this external id.").into()
    } else {
        e.into()
    }
}

pub fn create(conn: &mut DbConnection, actor: &Actor, form: &PayeeForm) -> Result<PayeeRow, AppError> {
    actor.require(can_manage)?;
    let p = form.check()?;
    let at = now();
    db::write_tx(conn, |conn| insert_payee(conn, actor, &p, at))
}

/// [`create`] inside the caller's transaction (an import).
pub(crate) fn create_in_tx(
    conn: &mut DbConnection,
    actor: &Actor,
    form: &PayeeForm,
    at: NaiveDateTime,
) -> Result<PayeeRow, AppError> {
    insert_payee(conn, actor, &form.check()?, at)
}

fn insert_payee(
    conn: &mut DbConnection,
    actor: &Actor,
    p: &CheckedPayee,
    at: NaiveDateTime,
) -> Result<PayeeRow, AppError> {
    let row = db::payees::insert(
        conn,
        &NewPayeeRow {
            org_id: actor.org_id,
            name: &p.name,
            email: &p.email,
            external_id: &p.external_id,
            notes: &p.notes,
            tags: &p.tags,
            archived: false,
            created_by: actor.user_id,
            created_at: at,
            updated_at: at,
        },
    )
    .map_err(taken_external_id)?;
    audit::record(conn, Entry::by(actor, "payee.created", "payee", row.id).detail(row.name.clone()), at)?;
    Ok(row)
}

pub fn update(conn: &mut DbConnection, actor: &Actor, id: i64, form: &PayeeForm) -> Result<PayeeRow, AppError> {
    actor.require(can_manage)?;
    form.check()?;
    let at = now();
    db::write_tx(conn, |conn| update_in_tx(conn, actor, id, form, at))
}

/// [`update`] inside the caller's transaction (an import).
pub(crate) fn update_in_tx(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    form: &PayeeForm,
    at: NaiveDateTime,
) -> Result<PayeeRow, AppError> {
    let p = form.check()?;
    {
        let before = db::payees::lock_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
        let change = db::payees::PayeeChange {
            name: &p.name,
            email: &p.email,
            external_id: &p.external_id,
            notes: &p.notes,
            tags: &p.tags,
            updated_at: at,
        };
        db::payees::update(conn, id, &change).map_err(taken_external_id)?;
        let mut changes = Vec::new();
        for (field, old, new) in [
            ("name", &before.name, &p.name),
            ("email", &before.email, &p.email),
            ("external id", &before.external_id, &p.external_id),
            ("notes", &before.notes, &p.notes),
            ("tags", &before.tags, &p.tags),
        ] {
            if old != new {
                changes.push(format!("{field}: {old:?} → {new:?}"));
            }
        }
        if !changes.is_empty() {
            audit::record(conn, Entry::by(actor, "payee.updated", "payee", id).detail(changes.join("; ")), at)?;
        }
        db::payees::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)
    }
}

/// Archived payees leave the book's list and pickers; nothing is deleted.
pub fn set_archived(conn: &mut DbConnection, actor: &Actor, id: i64, archived: bool) -> Result<PayeeRow, AppError> {
    actor.require(can_manage)?;
    let at = now();
    db::write_tx(conn, |conn| {
        let payee = db::payees::lock_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
        if payee.archived != archived {
            db::payees::set_archived(conn, id, archived, at)?;
            let action = if archived { "payee.archived" } else { "payee.restored" };
            audit::record(conn, Entry::by(actor, action, "payee", id).detail(payee.name.clone()), at)?;
        }
        db::payees::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)
    })
}

#[derive(Debug, Clone)]
pub struct AddressView {
    pub row: PayeeAddressRow,
    pub state: AddressState,
    pub entered_by: String,
    pub decided_by: Option<String>,
}

pub struct PayeeDetails {
    pub payee: PayeeRow,
    pub addresses: Vec<AddressView>,
}

fn emails(conn: &mut DbConnection, org_id: i64) -> Result<std::collections::HashMap<i64, String>, AppError> {
    Ok(db::users::list_in_org(conn, org_id)?.into_iter().map(|u| (u.id, u.email)).collect())
}

pub fn details(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<PayeeDetails, AppError> {
    let payee = db::payees::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
    let who = emails(conn, actor.org_id)?;
    let at = now();
    let addresses = db::payees::addresses_of(conn, id)?
        .into_iter()
        .map(|row| AddressView {
            state: AddressState::of(&row.status, row.payable_from, at),
            entered_by: who.get(&row.entered_by).cloned().unwrap_or_default(),
            decided_by: row.decided_by.and_then(|u| who.get(&u).cloned()),
            row,
        })
        .collect();
    Ok(PayeeDetails { payee, addresses })
}

pub fn list(conn: &mut DbConnection, actor: &Actor, term: &str, archived: bool) -> Result<Vec<PayeeRow>, AppError> {
    let term: String = term.trim().chars().take(200).collect();
    Ok(db::payees::list(conn, actor.org_id, &term, archived, 500)?)
}

/// An address entered for a payee on `asset`'s network: checked as every address is, then
/// pending. A pending address it supersedes is marked replaced; the approved one stays payable
/// until the new one is approved.
pub fn enter_address(
    conn: &mut DbConnection,
    actor: &Actor,
    payee_id: i64,
    asset_code: &str,
    address: &str,
) -> Result<i64, AppError> {
    actor.require(can_manage)?;
    let (asset, address) = check_address(asset_code, address)?;
    let at = now();
    db::write_tx(conn, |conn| {
        let payee = db::payees::lock_in_org(conn, actor.org_id, payee_id)?.ok_or(AppError::NotFound)?;
        Ok(enter_checked_address(conn, actor, &payee, asset, &address, at)?.0)
    })
}

/// An address typed for an asset: the asset and the canonical address, checked as every
/// address is.
pub fn check_address(asset_code: &str, address: &str) -> Result<(&'static Asset, String), FieldErrors> {
    let asset = asset::find(asset_code.trim())
        .ok_or_else(|| FieldErrors::single("asset", format!("Choose an asset: one of {}.", asset::codes())))?;
    let address = Address::parse(asset, address).map_err(|m| FieldErrors::single("address", m))?;
    Ok((asset, address.value))
}

/// Enters a checked address inside the caller's transaction, which holds the payee's lock.
/// Returns its id and whether it was new (the payee's current address changes nothing).
pub(crate) fn enter_checked_address(
    conn: &mut DbConnection,
    actor: &Actor,
    payee: &PayeeRow,
    asset: &'static Asset,
    address: &str,
    at: NaiveDateTime,
) -> Result<(i64, bool), AppError> {
    let current = db::payees::addresses_of(conn, payee.id)?
        .into_iter()
        .filter(|a| a.network == asset.network && matches!(a.status.as_str(), "pending" | "approved"))
        .collect::<Vec<_>>();
    if let Some(same) = current.iter().find(|a| a.address == address) {
        // Entering the address the payee already has changes nothing.
        return Ok((same.id, false));
    }
    crate::service::access::second_factor::require_fresh(conn, actor, "Changing a payee's address")?;
    let id = db::payees::insert_address(
        conn,
        &NewPayeeAddressRow {
            org_id: payee.org_id,
            payee_id: payee.id,
            network: asset.network,
            address,
            status: "pending",
            entered_by: actor.user_id,
            entered_at: at,
            reason: "",
        },
    )?;
    db::payees::replace_others(
        conn,
        payee.id,
        asset.network,
        "pending",
        id,
        "Superseded by a newer address before approval",
    )?;
    let previous = current.iter().find(|a| a.status == "approved").map(|a| a.address.as_str());
    let detail = match previous {
        Some(old) => format!("{} on {}: {old} → {address} (pending approval)", payee.name, asset.network),
        None => format!("{} on {}: {address} (pending approval)", payee.name, asset.network),
    };
    audit::record(conn, Entry::by(actor, "payee.address_entered", "payee", payee.id).detail(detail), at)?;
    announce_address(conn, payee, id, previous, at)?;
    Ok((id, true))
}

/// A manager's decision on a pending address: never by the person who entered it. Approval
/// reads the cooling-off period inside the transaction and replaces the address it changes.
pub fn decide_address(
    conn: &mut DbConnection,
    actor: &Actor,
    address_id: i64,
    approve: bool,
    reason: &str,
) -> Result<PayeeAddressRow, AppError> {
    actor.require(Role::can_approve)?;
    let reason = reason.trim();
    if !approve && reason.is_empty() {
        return Err(FieldErrors::single(
            "reason",
            "Say why the address is rejected; the person who entered it sees it.",
        )
        .into());
    }
    if reason.chars().count() > 500 {
        return Err(FieldErrors::single("reason", too_long("A reason", 500)).into());
    }
    check_text(reason, 500).map_err(|m| FieldErrors::single("reason", m))?;
    let at = now();
    db::write_tx(conn, |conn| {
        let found = db::payees::find_address_in_org(conn, actor.org_id, address_id)?.ok_or(AppError::NotFound)?;
        let payee = db::payees::lock_in_org(conn, actor.org_id, found.payee_id)?.ok_or(AppError::NotFound)?;
        crate::service::access::second_factor::require_fresh(conn, actor, "Deciding on a payee's address")?;
        if found.entered_by == actor.user_id {
            return Err(AppError::Conflict(
                "You entered this address; a manager other than you must approve or reject it.".into(),
            ));
        }
        let cooling = db::orgs::find(conn, actor.org_id)?.payee_cooling_off_minutes.max(0);
        let (to, payable_from) = if approve {
            ("approved", Some(at + chrono::Duration::minutes(cooling.into())))
        } else {
            ("rejected", None)
        };
        if !db::payees::decide(conn, address_id, to, actor.user_id, at, payable_from, reason)? {
            return Err(AppError::Conflict("This address was already decided; reload to see the decision.".into()));
        }
        if approve {
            db::payees::replace_others(
                conn,
                payee.id,
                &found.network,
                "approved",
                address_id,
                "Replaced by a newer approved address",
            )?;
        }
        let action = if approve { "payee.address_approved" } else { "payee.address_rejected" };
        let mut detail = format!("{} on {}: {}", payee.name, found.network, found.address);
        if let Some(t) = payable_from {
            detail.push_str(&format!("; payable from {} UTC", t.format("%Y-%m-%d %H:%M")));
        }
        if !reason.is_empty() {
            detail.push_str(&format!("; {reason}"));
        }
        audit::record(conn, Entry::by(actor, action, "payee", payee.id).detail(detail), at)?;
        announce_address(conn, &payee, address_id, None, at)?;
        db::payees::find_address_in_org(conn, actor.org_id, address_id)?.ok_or(AppError::NotFound)
    })
}

pub struct PendingAddress {
    pub row: PayeeAddressRow,
    pub payee_name: String,
    pub entered_by: String,
    /// The approved address it would replace.
    pub replaces: Option<String>,
}

/// The approvals page's queue of addresses, oldest first.
pub fn pending(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<PendingAddress>, AppError> {
    actor.require(Role::can_approve)?;
    let who = emails(conn, actor.org_id)?;
    let rows = db::payees::pending_in_org(conn, actor.org_id, 200)?;
    let mut out = Vec::with_capacity(rows.len());
    for (row, payee_name) in rows {
        let replaces = db::payees::addresses_of(conn, row.payee_id)?
            .into_iter()
            .find(|a| a.network == row.network && a.status == "approved")
            .map(|a| a.address);
        out.push(PendingAddress {
            entered_by: who.get(&row.entered_by).cloned().unwrap_or_default(),
            payee_name,
            replaces,
            row,
        });
    }
    Ok(out)
}

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
            matches!(AddressState::of(&a.status, a.payable_from, at), AddressState::Pending | AddressState::CoolingOff)
        })
        .map(|(a, name)| (a, name.as_str()))
        .collect();
    if blocked.is_empty() {
        return Ok(found
            .iter()
            .filter(|(a, _)| AddressState::of(&a.status, a.payable_from, at) == AddressState::Payable)
            .map(|(a, _)| (a.address.clone(), a.payee_id))
            .collect());
    }
    let mut messages = Vec::new();
    for (line, address) in rows {
        if let Some((a, name)) = blocked.iter().find(|(a, _)| a.address == *address) {
            let why = match a.payable_from {
                Some(t) if a.status == "approved" => {
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
            let Some(approved) = mine.clone().find(|a| a.status == "approved") else {
                return Err(if mine.clone().any(|a| a.status == "pending") {
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
    let approved: std::collections::HashMap<i64, &str> =
        addresses.iter().filter(|a| a.status == "approved").map(|a| (a.payee_id, a.address.as_str())).collect();
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

/// The organization's cooling-off period, set by an admin (audited).
pub fn set_cooling_off(conn: &mut DbConnection, actor: &Actor, hours: &str) -> Result<i32, AppError> {
    actor.require(Role::can_administer)?;
    let minutes = match hours.trim().parse::<rust_decimal::Decimal>() {
        Ok(h) if h >= rust_decimal::Decimal::ZERO && h <= rust_decimal::Decimal::from(MAX_COOLING_OFF_MINUTES / 60) => {
            rust_decimal::prelude::ToPrimitive::to_i32(&(h * rust_decimal::Decimal::from(60)).round()).unwrap_or(0)
        }
        _ => {
            return Err(FieldErrors::single(
                "cooling_off_hours",
                format!("Enter hours from 0 to {}, such as 24.", MAX_COOLING_OFF_MINUTES / 60),
            )
            .into());
        }
    };
    let at = now();
    db::write_tx(conn, |conn| {
        let before = db::orgs::find(conn, actor.org_id)?.payee_cooling_off_minutes;
        if before != minutes {
            db::payees::set_cooling_off(conn, actor.org_id, minutes)?;
            audit::record(
                conn,
                Entry::by(actor, "settings.payee_cooling_off", "organization", actor.org_id)
                    .detail(format!("{before} → {minutes} minutes")),
                at,
            )?;
        }
        Ok(minutes)
    })
}

/// "24 hours", "90 minutes", "no time".
pub fn describe_minutes(minutes: i32) -> String {
    match minutes {
        0 => "no time".into(),
        60 => "1 hour".into(),
        m if m % 60 == 0 => format!("{} hours", m / 60),
        m => format!("{m} minutes"),
    }
}

/// A statement's period, as the query string carries it (YYYY-MM-DD, UTC, both days included).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct Period {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

impl Period {
    fn bounds(&self) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), FieldErrors> {
        let mut errors = FieldErrors::new();
        let (from, before) = crate::domain::validation::day_range(&self.from, &self.to, &mut errors);
        errors.into_result((from, before))
    }
}

/// One row paid to a payee.
#[derive(Debug, Clone)]
pub struct StatementRow {
    pub paid_at: NaiveDateTime,
    pub payout_id: i64,
    pub line: i32,
    pub asset: &'static Asset,
    pub amount: crate::domain::Amount,
    pub fee: crate::domain::Amount,
    pub tx_hash: String,
    pub explorer_url: String,
    pub reference: String,
    pub comment: String,
}

/// Rows shown on a payee's page; the CSV has them all.
pub const STATEMENT_PAGE_ROWS: i64 = 200;
const STATEMENT_MAX_ROWS: i64 = 100_000;

pub struct Statement {
    pub rows: Vec<StatementRow>,
    /// Per asset: (asset, amount paid, fees), in the order assets first appear.
    pub totals: Vec<(&'static Asset, crate::domain::Amount, crate::domain::Amount)>,
    /// More rows than shown.
    pub truncated: bool,
}

/// Every completed row paid to the payee in the period (paid = the time the row completed).
pub fn statement(
    conn: &mut DbConnection,
    actor: &Actor,
    payee_id: i64,
    period: &Period,
    limit: i64,
) -> Result<Statement, AppError> {
    db::payees::find_in_org(conn, actor.org_id, payee_id)?.ok_or(AppError::NotFound)?;
    let (from, before) = period.bounds()?;
    let limit = limit.clamp(1, STATEMENT_MAX_ROWS);
    let mut found = db::payees::paid_rows(conn, actor.org_id, payee_id, from, before, limit + 1)?;
    let truncated = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let mut rows = Vec::with_capacity(found.len());
    let mut totals: Vec<(&'static Asset, crate::domain::Amount, crate::domain::Amount)> = Vec::new();
    for (item, code) in found {
        let asset = asset::find(&code).ok_or_else(|| AppError::Internal(format!("unknown asset {code}")))?;
        let amount = crate::error::stored_amount(asset, &item.amount)?;
        let fee = crate::error::stored_amount(asset, &item.fee)?;
        let overflow = || AppError::Internal("statement total overflow".into());
        match totals.iter_mut().find(|(a, _, _)| a.code == asset.code) {
            Some((_, sum, fees)) => {
                *sum = sum.checked_add(amount).ok_or_else(overflow)?;
                *fees = fees.checked_add(fee).ok_or_else(overflow)?;
            }
            None => totals.push((asset, amount, fee)),
        }
        let tx_hash = item.tx_hash.unwrap_or_default();
        rows.push(StatementRow {
            paid_at: item.updated_at,
            payout_id: item.payout_id,
            line: item.line,
            asset,
            amount,
            fee,
            explorer_url: if tx_hash.is_empty() { String::new() } else { asset.explorer_url(&tx_hash) },
            tx_hash,
            reference: item.reference,
            comment: item.comment,
        });
    }
    Ok(Statement { rows, totals, truncated })
}

/// The statement as CSV for tax and accounting: one line per row paid, formulas neutralized.
pub fn statement_csv(
    conn: &mut DbConnection,
    actor: &Actor,
    payee_id: i64,
    period: &Period,
) -> Result<String, AppError> {
    let payee = db::payees::find_in_org(conn, actor.org_id, payee_id)?.ok_or(AppError::NotFound)?;
    let s = statement(conn, actor, payee_id, period, STATEMENT_MAX_ROWS)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "paid_at_utc",
        "payee",
        "external_id",
        "payout_id",
        "line",
        "asset",
        "amount",
        "fee",
        "tx_hash",
        "explorer_url",
        "reference",
        "comment",
    ];
    let fail = |e: csv::Error| AppError::Internal(e.to_string());
    out.write_record(header).map_err(fail)?;
    for r in &s.rows {
        let cells = [
            r.paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            payee.name.clone(),
            payee.external_id.clone(),
            r.payout_id.to_string(),
            r.line.to_string(),
            r.asset.code.to_owned(),
            r.amount.to_string(),
            r.fee.to_string(),
            r.tx_hash.clone(),
            r.explorer_url.clone(),
            r.reference.clone(),
            r.comment.clone(),
        ];
        out.write_record(cells.iter().map(|c| crate::domain::spreadsheet::safe_cell(c).into_owned())).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| AppError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.to_string()))
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
}

/// The flagged rows of a payout or draft, and how many carry each flag.
#[derive(Debug, Clone, Default)]
pub struct AddressFlags {
    /// By line.
    pub rows: Vec<AddressFlag>,
    pub first: usize,
    pub changed: usize,
    /// The payee each looked-up address belongs to (pending or approved), by address.
    pub names: std::collections::HashMap<String, String>,
}

impl AddressFlags {
    pub fn any(&self) -> bool {
        !self.rows.is_empty()
    }

    /// A line's flag: a binary search, as pages ask for each of up to 50,000 rows.
    pub fn of_line(&self, line: u64) -> Option<&AddressFlag> {
        self.rows.binary_search_by_key(&line, |f| f.line).ok().map(|i| &self.rows[i])
    }
}

/// Marks rows paying an address this organization never paid, and rows paying a payee at an
/// address other than the one their last payout went to (old → new). `except_payout` leaves
/// out the payout being looked at.
pub fn address_flags(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &'static Asset,
    rows: &[(u64, &str)],
    except_payout: Option<i64>,
) -> Result<AddressFlags, AppError> {
    let mut distinct: Vec<&str> = rows.iter().map(|(_, a)| *a).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let paid: std::collections::HashSet<String> =
        db::payees::paid_addresses(conn, org_id, &distinct, except_payout)?.into_iter().collect();
    let at = now();
    let found = db::payees::matching(conn, org_id, asset.network, &distinct)?;
    let names = found.iter().map(|(a, name)| (a.address.clone(), name.clone())).collect();
    let payees: std::collections::HashMap<String, (i64, String)> = found
        .into_iter()
        .filter(|(a, _)| AddressState::of(&a.status, a.payable_from, at) == AddressState::Payable)
        .map(|(a, name)| (a.address, (a.payee_id, name)))
        .collect();
    let ids: Vec<i64> = payees.values().map(|(id, _)| *id).collect();
    let last: std::collections::HashMap<i64, String> =
        db::payees::last_paid_addresses(conn, org_id, &ids, except_payout)?.into_iter().collect();
    let mut flags = AddressFlags { names, ..AddressFlags::default() };
    for (line, address) in rows {
        let payee = payees.get(*address);
        let first_payment = !paid.contains(*address);
        let changed_from = payee.and_then(|(id, _)| last.get(id)).filter(|old| old.as_str() != *address).cloned();
        if first_payment || changed_from.is_some() {
            flags.first += usize::from(first_payment);
            flags.changed += usize::from(changed_from.is_some());
            flags.rows.push(AddressFlag {
                line: *line,
                address: (*address).to_owned(),
                payee: payee.map(|(_, name)| name.clone()),
                first_payment,
                changed_from,
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
            .find(|a| a.org_id == org_id && a.network == asset.network && a.status == "approved");
        if let Some(a) = payable {
            out.insert(id, a.address);
        }
    }
    Ok(out)
}

/// Tells the event stream where an address under change control stands now. Inside the
/// change's transaction.
fn announce_address(
    conn: &mut DbConnection,
    payee: &PayeeRow,
    address_id: i64,
    previous: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let a = db::payees::find_address_in_org(conn, payee.org_id, address_id)?.ok_or(AppError::NotFound)?;
    let told = crate::service::views::payees::address_event_json(payee, &a, previous);
    Ok(db::events::append(conn, &[db::events::NewEvent::json(payee.org_id, PAYEE_ADDRESS_CHANGED, &told, at)])?)
}
