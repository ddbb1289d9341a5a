//! The book: payees, their details and tags, archived or not.

use chrono::NaiveDateTime;

use crate::db::payees::{NewPayeeRow, PayeeAddressRow, PayeeRow};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::{Role, normalize_email};
use crate::domain::registry::check_text;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

use super::*;

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

pub(super) fn too_long(what: &str, max: usize) -> String {
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
    let at = actor.now();
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
    let at = actor.now();
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
        if before.email != p.email {
            // The payee's page belongs to whoever holds the email on file: sessions signed in
            // with the old one end.
            db::portal::end_sessions_of(conn, id)?;
        }
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
    let at = actor.now();
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

pub(super) fn emails(conn: &mut DbConnection, org_id: i64) -> Result<std::collections::HashMap<i64, String>, AppError> {
    Ok(db::users::list_in_org(conn, org_id)?.into_iter().map(|u| (u.id, u.email)).collect())
}

pub fn details(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<PayeeDetails, AppError> {
    let payee = db::payees::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
    let who = emails(conn, actor.org_id)?;
    let at = actor.now();
    let addresses = db::payees::addresses_of(conn, id)?
        .into_iter()
        .map(|row| AddressView {
            state: AddressState::of(row.status, row.payable_from, at),
            entered_by: super::addresses::entered_by_words(&who, &row),
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

/// One of the organization's payees.
pub fn find(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<PayeeRow, AppError> {
    db::payees::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)
}
