//! Manager approval: the policy, the four-eyes rule, approve and reject. A payout approved by
//! the number of distinct managers its policy asked for moves to In progress exactly once.

use chrono::NaiveDateTime;

use crate::crypto;
use crate::db::payouts::PayoutRow;
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{ASSETS, Asset};
use crate::domain::ledger::Movement;
use crate::domain::payout::{ItemStatus, PayoutStatus};
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::error::stored_amount;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::payouts::ledger::{self, MoveContext};
use crate::service::payouts::{Change, event, payout_asset};

pub const MAX_APPROVALS_NEEDED: i32 = 5;

#[derive(Debug, Clone)]
pub struct Policy {
    pub required: bool,
    pub needed: i32,
    /// Per asset: above this total a payout needs approval even when `required` is off.
    pub thresholds: Vec<(&'static Asset, Amount)>,
    /// A payout with a row to a never-paid or changed payee address needs one approval more
    /// (at least two).
    pub extra_for_new_addresses: bool,
}

pub fn policy(conn: &mut DbConnection, org_id: i64) -> Result<Policy, AppError> {
    let (org, thresholds) = db::orgs::find_with_thresholds(conn, org_id)?;
    let thresholds = crate::domain::threshold::stored(thresholds);
    Ok(Policy {
        required: org.approval_required,
        needed: org.approvals_needed.max(1),
        thresholds,
        extra_for_new_addresses: org.extra_approval_for_new_addresses,
    })
}

impl Policy {
    /// How many approvals a new payout of `total` needs: 0 when none. `flagged`: it pays an
    /// address never paid, or a payee's changed address.
    pub fn approvals_for(&self, total: Amount, flagged: bool) -> i32 {
        let over_threshold = self.thresholds.iter().any(|(a, t)| a.code == total.asset().code && total >= *t);
        let usual = if self.required || over_threshold { self.needed } else { 0 };
        if flagged && self.extra_for_new_addresses { (usual + 1).max(2) } else { usual }
    }
}

/// What the settings form sends: `required`, `needed`, and `threshold_<ASSET>` per asset.
pub fn set_policy(conn: &mut DbConnection, actor: &Actor, fields: &[(String, String)]) -> Result<Policy, AppError> {
    actor.require(Role::can_administer)?;
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("");
    let mut errors = FieldErrors::new();
    let required = !get("required").is_empty();
    let extra = !get("extra_for_new_addresses").is_empty();
    let needed = match get("needed").parse::<i32>() {
        Ok(n) if (1..=MAX_APPROVALS_NEEDED).contains(&n) => n,
        _ => {
            errors.add("needed", format!("Choose from 1 to {MAX_APPROVALS_NEEDED} approvals."));
            1
        }
    };
    let thresholds = crate::domain::threshold::typed(fields, &mut errors);
    errors.into_result(())?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Changing the approval policy")?;
        let before = policy(conn, actor.org_id)?;
        db::approvals::set_policy(conn, actor.org_id, required, needed, extra)?;
        for a in ASSETS.iter() {
            let t = thresholds.iter().find(|(x, _)| x.code == a.code).map(|(_, t)| t.to_string());
            db::approvals::set_threshold(conn, actor.org_id, a.code, t.as_deref())?;
        }
        let describe = |required: bool, needed: i32, thresholds: &[(&'static Asset, Amount)], extra: bool| {
            let t: Vec<String> = thresholds.iter().map(|(_, v)| v.money()).collect();
            format!(
                "approval {}, {}{}{}",
                if required { "required" } else { "not required" },
                crate::domain::words::count(needed, "approval", "approvals"),
                if t.is_empty() { String::new() } else { format!(", required above {}", t.join(" or ")) },
                if extra { ", one more for new or changed addresses" } else { "" }
            )
        };
        audit::record(
            conn,
            Entry::by(actor, "approval_policy.changed", "organization", actor.org_id).detail(format!(
                "{} → {}",
                describe(before.required, before.needed, &before.thresholds, before.extra_for_new_addresses),
                describe(required, needed, &thresholds, extra)
            )),
            at,
        )?;
        policy(conn, actor.org_id)
    })
}

/// What an approval binds to: the asset, the totals and every item. Shown to the manager and
/// stored with the decision.
pub fn digest(conn: &mut DbConnection, payout: &PayoutRow) -> Result<String, AppError> {
    let mut text =
        format!("{}|{}|{}|{}|{}\n", payout.id, payout.asset, payout.amount_total, payout.fee, payout.total_debit);
    for item in db::payouts::items(conn, payout.id)? {
        text.push_str(&format!("{}|{}|{}|{}\n", item.line, item.address, item.amount, item.fee));
    }
    Ok(format!("sha256:{}", crypto::sha256_hex(text.as_bytes())))
}

/// The pending payout `actor` may decide on now, locked; a decision over the step-up threshold
/// needs a fresh second factor.
fn load_pending(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<PayoutRow, AppError> {
    actor.require(Role::can_approve)?;
    // Locked: with two approvals needed, two managers approving at once must see each other's
    // approval, so the last one always moves the payout.
    let payout = db::payouts::lock_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
    if payout.created_by == actor.user_id {
        return Err(AppError::NotAllowed(
            "You created this payout, so another manager must approve or reject it (four-eyes rule).".into(),
        ));
    }
    let status = payout.status;
    if status != PayoutStatus::Pending {
        return Err(AppError::Conflict(format!(
            "This payout is {} and no longer awaits a decision.",
            status.label().to_lowercase()
        )));
    }
    let total = stored_amount(payout_asset(&payout)?, &payout.amount_total)?;
    crate::service::access::second_factor::require_for_payout(conn, actor, total, true)?;
    Ok(payout)
}

/// The outcome of an approval.
#[derive(Debug, PartialEq, Eq)]
pub enum Approved {
    /// Enough approvals: the payout is In progress.
    Started,
    /// More approvals are needed: (given, needed).
    Waiting(usize, usize),
}

/// Approves as `actor`. `seen_digest` is the digest the manager reviewed; a payout that no longer
/// matches it is not approved.
pub fn approve(
    conn: &mut DbConnection,
    actor: &Actor,
    payout_id: i64,
    seen_digest: &str,
) -> Result<Approved, AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = load_pending(conn, actor, payout_id)?;
        let current = digest(conn, &payout)?;
        if !seen_digest.is_empty() && seen_digest != current {
            return Err(AppError::Conflict("The payout is not what you reviewed; open it again.".into()));
        }
        // A list can change while a payout waits: what the approval would start is screened now.
        let items = db::payouts::items(conn, payout.id)?;
        let lines: Vec<(u64, &str)> = items.iter().map(|i| (i.line as u64, i.address.as_str())).collect();
        crate::service::compliance::refuse_listed(conn, &lines, at).map_err(|e| match e {
            AppError::Validation(v) => AppError::Conflict(format!(
                "{} This payout cannot be approved; reject it.",
                v.iter().map(|(_, m)| m.trim_end_matches(" Remove those rows.")).collect::<Vec<_>>().join(" ")
            )),
            other => other,
        })?;
        if !db::approvals::record(conn, payout.id, actor.user_id, "approve", "", &current, at)? {
            return Err(AppError::Conflict("You already decided on this payout.".into()));
        }
        let given = db::approvals::of_payout(conn, payout.id)?.iter().filter(|a| a.decision == "approve").count();
        let needed = payout.approvals_required.max(1) as usize;
        audit::record(
            conn,
            Entry::by(actor, "payout.approved", "payout", payout.id).detail(format!("{given} of {needed}")),
            at,
        )?;
        if given < needed {
            let reason = format!("Approved by {} ({given} of {needed}); waiting for another manager", actor.email);
            event(
                conn,
                payout.id,
                Change::Payout(PayoutStatus::Pending, PayoutStatus::Pending),
                Some(actor.user_id),
                &reason,
                at,
            )?;
            return Ok(Approved::Waiting(given, needed));
        }
        start(conn, &payout, actor, &format!("Approved by {} ({given} of {needed})", actor.email), at)?;
        Ok(Approved::Started)
    })
}

fn start(
    conn: &mut DbConnection,
    payout: &PayoutRow,
    actor: &Actor,
    reason: &str,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    if !db::payouts::cas_status(conn, payout.id, PayoutStatus::Pending, PayoutStatus::InProgress, at)? {
        return Err(AppError::Conflict("Another decision on this payout came first; reload the page.".into()));
    }
    // Claims first: they wait for their payees' addresses, the rest go to the processor.
    super::claims::opened(conn, payout.org_id, payout.id, at)?;
    db::payouts::set_items_status(conn, payout.id, ItemStatus::Waiting, ItemStatus::Queued, at)?;
    event(
        conn,
        payout.id,
        Change::Payout(PayoutStatus::Pending, PayoutStatus::InProgress),
        Some(actor.user_id),
        reason,
        at,
    )
}

/// Rejects with a reason: the payout is cancelled and its reservation released.
pub fn reject(conn: &mut DbConnection, actor: &Actor, payout_id: i64, reason: &str) -> Result<(), AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(FieldErrors::single("reason", "Say why the payout is rejected; the creator will see it.").into());
    }
    crate::domain::registry::check_text(reason, crate::service::payouts::MAX_DESCRIPTION_CHARS)
        .map_err(|e| FieldErrors::single("reason", e))?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = load_pending(conn, actor, payout_id)?;
        let current = digest(conn, &payout)?;
        if !db::approvals::record(conn, payout.id, actor.user_id, "reject", reason, &current, at)? {
            return Err(AppError::Conflict("You already decided on this payout.".into()));
        }
        if !db::payouts::cas_status(conn, payout.id, PayoutStatus::Pending, PayoutStatus::Cancelled, at)? {
            return Err(AppError::Conflict("Another decision on this payout came first; reload the page.".into()));
        }
        db::payouts::set_items_status(conn, payout.id, ItemStatus::Waiting, ItemStatus::Cancelled, at)?;
        let asset = payout_asset(&payout)?;
        let ctx = MoveContext {
            org_id: actor.org_id,
            payout_id: Some(payout.id),
            note: "Released: payout rejected",
            actor_user_id: Some(actor.user_id),
            at,
        };
        ledger::move_funds(conn, Movement::Release, stored_amount(asset, &payout.total_debit)?, &ctx)?;
        let text = format!("Rejected by {}: {reason}", actor.email);
        event(
            conn,
            payout.id,
            Change::Payout(PayoutStatus::Pending, PayoutStatus::Cancelled),
            Some(actor.user_id),
            &text,
            at,
        )?;
        audit::record(conn, Entry::by(actor, "payout.rejected", "payout", payout.id).detail(reason.to_owned()), at)?;
        Ok(())
    })
}

/// A payout in the approval queue.
pub struct QueueEntry {
    pub payout: crate::service::payouts::PayoutView,
    pub mine: bool,
    pub approvals: usize,
}

pub fn queue(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<QueueEntry>, AppError> {
    actor.require(Role::can_approve)?;
    let emails = crate::service::payouts::org_emails(conn, actor.org_id)?;
    db::approvals::pending(conn, actor.org_id, 500)?
        .iter()
        .map(|row| {
            let approvals = db::approvals::of_payout(conn, row.id)?.iter().filter(|a| a.decision == "approve").count();
            Ok(QueueEntry {
                payout: crate::service::payouts::view(row, &emails)?,
                mine: row.created_by == actor.user_id,
                approvals,
            })
        })
        .collect()
}

/// What the payout page shows a manager about the decision.
pub struct Decision {
    pub digest: String,
    pub can_decide: bool,
    pub approvals: Vec<(String, String, String, NaiveDateTime)>,
    pub needed: i32,
    /// While it waits: the managers who may still decide (not its creator, not those who did),
    /// so whoever cannot is told whom to ask.
    pub deciders: Vec<String>,
}

pub fn decision(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<Decision, AppError> {
    let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
    let emails = crate::service::payouts::org_emails(conn, actor.org_id)?;
    let rows = db::approvals::of_payout(conn, payout.id)?;
    let decided = rows.iter().any(|a| a.user_id == actor.user_id);
    let approvals = rows
        .iter()
        .map(|a| {
            let who = emails.iter().find(|(id, _)| *id == a.user_id).map_or_else(|| "—".into(), |(_, e)| e.clone());
            (who, a.decision.clone(), a.reason.clone(), a.created_at)
        })
        .collect();
    let deciders = if payout.status == PayoutStatus::Pending {
        let out: Vec<&str> = emails
            .iter()
            .filter(|(id, _)| *id == payout.created_by || rows.iter().any(|a| a.user_id == *id))
            .map(|(_, e)| e.as_str())
            .collect();
        let managers = crate::service::access::users::who_can_any(conn, actor.org_id, &[Role::Manager])?;
        managers.into_iter().filter(|m| !out.contains(&m.as_str())).collect()
    } else {
        Vec::new()
    };
    Ok(Decision {
        deciders,
        digest: digest(conn, &payout)?,
        can_decide: payout.status == PayoutStatus::Pending
            && actor.role.can_approve()
            && payout.created_by != actor.user_id
            && !decided,
        approvals,
        needed: payout.approvals_required,
    })
}

/// What an approver is told of a payout waiting for them, and who may still decide on it.
pub struct Awaiting {
    pub org_id: i64,
    pub payout: crate::service::payouts::PayoutView,
    pub approvals_needed: i32,
    /// Rows paying an address this organization never paid.
    pub first_payments: usize,
    /// Rows paying a payee at another address than last time.
    pub changed_addresses: usize,
    /// Rows whose address looks like a known one.
    pub lookalikes: usize,
    /// The pay day in the organization's time zone.
    pub pay_day: Option<String>,
    /// Enabled managers who did not create it and have not decided yet.
    pub deciders: Vec<crate::db::models::UserRow>,
    pub approvals_given: usize,
    /// The address a single-row payout pays.
    pub to_address: Option<String>,
}

/// A pending payout as its approvers are told of it (None once it no longer waits).
pub fn awaiting(conn: &mut DbConnection, payout_id: i64, at: NaiveDateTime) -> Result<Option<Awaiting>, AppError> {
    let row = db::payouts::find(conn, payout_id)?;
    if row.status != PayoutStatus::Pending {
        return Ok(None);
    }
    let emails = crate::service::payouts::org_emails(conn, row.org_id)?;
    let payout = crate::service::payouts::view(&row, &emails)?;
    let decided = db::approvals::of_payout(conn, row.id)?;
    let users = db::users::list_in_org(conn, row.org_id)?;
    let creator = users.iter().find(|u| u.id == row.created_by).cloned().ok_or(AppError::NotFound)?;
    let deciders = users
        .into_iter()
        .filter(|u| !u.disabled && u.id != row.created_by && !decided.iter().any(|a| a.user_id == u.id))
        .filter(|u| Role::parse(&u.role).is_some_and(Role::can_approve))
        .collect();
    let items = db::payouts::items(conn, row.id)?;
    let lines: Vec<(u64, &str)> = items.iter().map(|i| (i.line as u64, i.address.as_str())).collect();
    let as_creator = Actor::of_user(creator, Role::Accountant).with_clock(crate::clock::Clock::fixed(at));
    let flags = crate::service::payees::address_flags(conn, &as_creator, payout.asset, &lines)?;
    let zone = crate::domain::zone::Zone::stored(&db::orgs::find(conn, row.org_id)?.time_zone);
    Ok(Some(Awaiting {
        org_id: row.org_id,
        approvals_needed: row.approvals_required.max(1),
        first_payments: flags.first,
        changed_addresses: flags.changed,
        lookalikes: flags.lookalikes,
        pay_day: row.scheduled_for.map(|d| zone.describe(d)),
        approvals_given: decided.iter().filter(|a| a.decision == "approve").count(),
        to_address: (items.len() == 1).then(|| items[0].address.clone()),
        deciders,
        payout,
    }))
}
