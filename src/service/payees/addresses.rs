//! Address change control: an address entered is pending until a manager other than the person
//! who entered it approves it, then waits the cooling-off period before a payout may pay it.

use chrono::NaiveDateTime;

use crate::db::payees::{NewPayeeAddressRow, PayeeAddressRow, PayeeRow};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::event::{PAYEE_ADDRESS_CHANGED, PAYEE_ADDRESS_SUBMITTED};
use crate::domain::payee::AddressStatus;
use crate::domain::registry::check_text;
use crate::domain::{Address, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

use super::*;

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
    let at = actor.now();
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

/// Who entered an address, in words: a staff member's email, or the payee with their proof's state.
pub(crate) fn entered_by_words(who: &std::collections::HashMap<i64, String>, row: &PayeeAddressRow) -> String {
    match row.entered_by {
        Some(id) => who.get(&id).cloned().unwrap_or_default(),
        None if row.proof.is_some() => {
            let method = row
                .proof
                .as_deref()
                .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
                .and_then(|v| crate::domain::proof::Method::parse(v["method"].as_str()?));
            match method {
                Some(m) => format!("the payee, ownership proven ({})", m.label()),
                None => "the payee, ownership proven".into(),
            }
        }
        None => "the payee, ownership not proven".into(),
    }
}

/// Who puts an address under change control: a staff member (after a fresh second factor), or
/// the payee themselves from their own page, with their proof of control when they gave one.
#[derive(Clone, Copy)]
pub enum EnteredBy<'a> {
    Staff(&'a Actor),
    Payee { proof: Option<&'a str> },
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
    enter_address_by(conn, EnteredBy::Staff(actor), payee, asset, address, at)
}

/// [`enter_checked_address`] for whoever enters it.
pub(crate) fn enter_address_by(
    conn: &mut DbConnection,
    by: EnteredBy,
    payee: &PayeeRow,
    asset: &'static Asset,
    address: &str,
    at: NaiveDateTime,
) -> Result<(i64, bool), AppError> {
    let current = db::payees::addresses_of(conn, payee.id)?
        .into_iter()
        .filter(|a| a.network == asset.network && matches!(a.status, AddressStatus::Pending | AddressStatus::Approved))
        .collect::<Vec<_>>();
    if let Some(same) = current.iter().find(|a| a.address == address) {
        // Entering the address the payee already has changes nothing.
        return Ok((same.id, false));
    }
    crate::service::compliance::refuse_listed(conn, &[(1, address)], at)?;
    let (entered_by, proof) = match by {
        EnteredBy::Staff(actor) => {
            crate::service::access::second_factor::require_fresh(conn, actor, "Changing a payee's address")?;
            (Some(actor.user_id), None)
        }
        EnteredBy::Payee { proof } => (None, proof),
    };
    let id = db::payees::insert_address(
        conn,
        &NewPayeeAddressRow {
            org_id: payee.org_id,
            payee_id: payee.id,
            network: asset.network,
            address,
            status: AddressStatus::Pending,
            entered_by,
            entered_at: at,
            reason: "",
            submitted_by_payee: matches!(by, EnteredBy::Payee { .. }),
            proof,
        },
    )?;
    super::lookalike::remember(conn, payee.org_id, &[address])?;
    db::payees::replace_others(
        conn,
        payee.id,
        asset.network,
        AddressStatus::Pending,
        id,
        "Superseded by a newer address before approval",
    )?;
    let previous = current.iter().find(|a| a.status == AddressStatus::Approved).map(|a| a.address.as_str());
    let mut detail = match previous {
        Some(old) => format!("{} on {}: {old} → {address} (pending approval)", payee.name, asset.network),
        None => format!("{} on {}: {address} (pending approval)", payee.name, asset.network),
    };
    let entry = match by {
        EnteredBy::Staff(actor) => Entry::by(actor, "payee.address_entered", "payee", payee.id),
        EnteredBy::Payee { proof } => {
            detail.push_str(if proof.is_some() {
                "; submitted by the payee, ownership proven"
            } else {
                "; submitted by the payee, not proven"
            });
            Entry {
                org_id: Some(payee.org_id),
                actor_user_id: None,
                action: "payee.address_submitted",
                object_type: "payee",
                object_id: Some(payee.id.to_string()),
                detail: String::new(),
                ip: None,
            }
        }
    };
    audit::record(conn, entry.detail(detail), at)?;
    announce_address(conn, payee, id, previous, at)?;
    if let EnteredBy::Payee { .. } = by {
        let a = db::payees::find_address_in_org(conn, payee.org_id, id)?.ok_or(AppError::NotFound)?;
        let told = crate::service::views::payees::address_event_json(payee, &a, previous);
        db::events::append(conn, &[db::events::NewEvent::json(payee.org_id, PAYEE_ADDRESS_SUBMITTED, &told, at)])?;
    }
    Ok((id, true))
}

/// The form field (and API field) a manager ticks to say a lookalike address was checked.
pub const ACKNOWLEDGE_LOOKALIKE: &str = "acknowledge_lookalike";

/// A manager's decision on a pending address: never by the person who entered it. Approval
/// reads the cooling-off period inside the transaction and replaces the address it changes.
/// An address that looks like a known one (decided here, in the transaction) is approved only
/// with `acknowledged_lookalike` and by two different managers: the first approval is kept (the
/// address stays pending), the second approves it.
pub fn decide_address(
    conn: &mut DbConnection,
    actor: &Actor,
    address_id: i64,
    approve: bool,
    acknowledged_lookalike: bool,
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
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let found = db::payees::find_address_in_org(conn, actor.org_id, address_id)?.ok_or(AppError::NotFound)?;
        let payee = db::payees::lock_in_org(conn, actor.org_id, found.payee_id)?.ok_or(AppError::NotFound)?;
        crate::service::access::second_factor::require_fresh(conn, actor, "Deciding on a payee's address")?;
        if found.entered_by == Some(actor.user_id) {
            return Err(AppError::Conflict(
                "You entered this address; a manager other than you must approve or reject it.".into(),
            ));
        }
        // A list imported after the address was entered is read here, as it is when it is paid.
        if approve {
            crate::service::compliance::refuse_listed(conn, &[(1, found.address.as_str())], at)?;
        }
        let mut second_of = None;
        if approve
            && let Some(l) =
                super::lookalike::for_entries(conn, actor.org_id, &[found.address.as_str()])?.remove(&found.address)
        {
            if !acknowledged_lookalike {
                return Err(FieldErrors::single(
                    ACKNOWLEDGE_LOOKALIKE,
                    format!(
                        "{} Approve only after checking it with the payee by another channel, and tick the box \
                         to say so; two managers must approve it.",
                        l.sentence()
                    ),
                )
                .into());
            }
            match found.lookalike_ack_by {
                None => return first_of_two(conn, actor, &payee, &found, &l, at),
                Some(first) if first == actor.user_id => {
                    return Err(AppError::Conflict(
                        "You approved this lookalike address already; a second manager must approve it.".into(),
                    ));
                }
                Some(first) => second_of = Some(first),
            }
        }
        let cooling = db::orgs::find(conn, actor.org_id)?.payee_cooling_off_minutes.max(0);
        let (to, payable_from) = if approve {
            (AddressStatus::Approved, Some(at + chrono::Duration::minutes(cooling.into())))
        } else {
            (AddressStatus::Rejected, None)
        };
        if !db::payees::decide(conn, address_id, to, actor.user_id, at, payable_from, reason)? {
            return Err(AppError::Conflict("This address was already decided; reload to see the decision.".into()));
        }
        if approve {
            db::payees::replace_others(
                conn,
                payee.id,
                &found.network,
                AddressStatus::Approved,
                address_id,
                "Replaced by a newer approved address",
            )?;
        }
        let action = if approve { "payee.address_approved" } else { "payee.address_rejected" };
        let mut detail = format!("{} on {}: {}", payee.name, found.network, found.address);
        if let Some(t) = payable_from {
            detail.push_str(&format!("; payable from {} UTC", t.format("%Y-%m-%d %H:%M")));
        }
        if let Some(first) = second_of {
            let who = db::users::find(conn, first)?.email;
            detail.push_str(&format!("; a lookalike address, approved by {who} first"));
        }
        if !reason.is_empty() {
            detail.push_str(&format!("; {reason}"));
        }
        audit::record(conn, Entry::by(actor, action, "payee", payee.id).detail(detail), at)?;
        announce_address(conn, &payee, address_id, None, at)?;
        db::payees::find_address_in_org(conn, actor.org_id, address_id)?.ok_or(AppError::NotFound)
    })
}

/// The first of two approvals of a lookalike address: kept, audited, told; the address stays
/// pending for a second manager.
fn first_of_two(
    conn: &mut DbConnection,
    actor: &Actor,
    payee: &PayeeRow,
    found: &PayeeAddressRow,
    l: &super::Lookalike,
    at: NaiveDateTime,
) -> Result<PayeeAddressRow, AppError> {
    if !db::payees::acknowledge_lookalike(conn, found.id, actor.user_id, at)? {
        return Err(AppError::Conflict("This address was just decided; reload to see the decision.".into()));
    }
    let detail = format!(
        "{} on {}: {}, which looks like {} ({}), checked and approved once; a second manager must approve it",
        payee.name,
        found.network,
        found.address,
        l.resembles,
        l.whose_words()
    );
    audit::record(
        conn,
        Entry::by(actor, "payee.address_lookalike_acknowledged", "payee", payee.id).detail(detail),
        at,
    )?;
    announce_address(conn, payee, found.id, None, at)?;
    db::payees::find_address_in_org(conn, actor.org_id, found.id)?.ok_or(AppError::NotFound)
}

pub struct PendingAddress {
    pub row: PayeeAddressRow,
    pub payee_name: String,
    pub entered_by: String,
    /// The approved address it would replace.
    pub replaces: Option<String>,
    /// A known address it looks like (another payee's, or one paid): the way a poisoned address
    /// slips into the book.
    pub lookalike: Option<super::Lookalike>,
    /// Who approved it first, when it is a lookalike waiting for a second manager.
    pub first_approved_by: Option<String>,
}

/// The approvals page's queue of addresses, oldest first.
pub fn pending(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<PendingAddress>, AppError> {
    actor.require(Role::can_approve)?;
    let who = emails(conn, actor.org_id)?;
    let rows = db::payees::pending_in_org(conn, actor.org_id, 200)?;
    let entered: Vec<&str> = rows.iter().map(|(r, _)| r.address.as_str()).collect();
    let lookalikes = super::lookalike::for_entries(conn, actor.org_id, &entered)?;
    let mut out = Vec::with_capacity(rows.len());
    for (row, payee_name) in rows {
        let replaces = db::payees::addresses_of(conn, row.payee_id)?
            .into_iter()
            .find(|a| a.network == row.network && a.status == AddressStatus::Approved)
            .map(|a| a.address);
        out.push(PendingAddress {
            entered_by: entered_by_words(&who, &row),
            first_approved_by: row.lookalike_ack_by.and_then(|id| who.get(&id).cloned()),
            payee_name,
            replaces,
            lookalike: lookalikes.get(&row.address).cloned(),
            row,
        });
    }
    Ok(out)
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
    let at = actor.now();
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

/// One of the organization's payee addresses.
pub fn find_address(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<PayeeAddressRow, AppError> {
    db::payees::find_address_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)
}
