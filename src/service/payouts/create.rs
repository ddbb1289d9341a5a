//! Creating payouts (single, mass and API through the same `create_in_tx`): every price, policy
//! and balance read inside the transaction that writes the payout. What a payout would cost is
//! `pricing`; cancelling one is `cancel`.

use chrono::NaiveDateTime;

use crate::db::payouts::{NewEventRow, NewItemRow, NewPayoutRow, PayoutRow};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::event::PAYOUT_STATUS_CHANGED;
use crate::domain::ledger::Movement;
use crate::domain::payout::{ItemStatus, PayoutStatus};
use crate::domain::spend_limit::OverLimit;
use crate::domain::zone::Zone;
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::payouts::ledger::{self, MoveContext};

use super::pricing::{CHANGED_SINCE_REVIEW, Draft, check_fiat_pricing, enabled_asset, quote_rows};

pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// The outcome of a confirm: the payout, and whether an earlier identical confirm had already
/// created it (a double click, the back button, a retried API call).
pub struct Created {
    pub payout: PayoutRow,
    pub replayed: bool,
}

/// Stores the draft as a payout, reserves amount + fee, and starts it (or leaves it Pending
/// when approval is required), all in one transaction, priced by the fee rule in force in that
/// transaction. The same `idempotency_key` again returns the first payout.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    draft: &Draft,
    idempotency_key: &str,
) -> Result<Created, AppError> {
    create_with(conn, actor, idempotency_key, None, |_| Ok(draft.clone()), |_, _| Ok(()))
}

/// [`create`] bound to what a person reviewed: when the payout priced inside the transaction
/// no longer has `reviewed_digest` (a fee rule changed, another person edited a row), nothing
/// is created and the answer is a conflict asking to review again.
pub fn create_reviewed(
    conn: &mut DbConnection,
    actor: &Actor,
    draft: &Draft,
    idempotency_key: &str,
    reviewed_digest: &str,
) -> Result<Created, AppError> {
    create_with(conn, actor, idempotency_key, Some(reviewed_digest), |_| Ok(draft.clone()), |_, _| Ok(()))
}

/// The general form: `draft_of` reads the rows inside the transaction (a mass payout's draft
/// lines), `also` runs in it once the payout exists (the draft is closed there, so a draft is
/// confirmed exactly when its payout is created).
pub fn create_with(
    conn: &mut DbConnection,
    actor: &Actor,
    idempotency_key: &str,
    reviewed_digest: Option<&str>,
    draft_of: impl FnOnce(&mut DbConnection) -> Result<Draft, AppError>,
    also: impl FnOnce(&mut DbConnection, &PayoutRow) -> Result<(), AppError>,
) -> Result<Created, AppError> {
    actor.require(Role::can_create_payouts)?;
    if let Some(existing) = db::payouts::find_by_idempotency_key(conn, actor.org_id, idempotency_key)? {
        return Ok(Created { payout: existing, replayed: true });
    }
    let at = actor.now();
    let result = db::write_tx(conn, |conn| {
        let draft = draft_of(conn)?;
        let checked = Checked { screened: None, reviewed_digest };
        let (payout, _) = create_in_tx(conn, actor, &draft, idempotency_key, checked, at)?;
        also(conn, &payout)?;
        Ok(payout)
    });
    match result {
        Ok(payout) => Ok(Created { payout, replayed: false }),
        // Two confirms with one key raced; the other one stored it.
        Err(e) => match db::payouts::find_by_idempotency_key(conn, actor.org_id, idempotency_key)? {
            Some(existing) => Ok(Created { payout: existing, replayed: true }),
            None => Err(e),
        },
    }
}

/// What the caller of [`create_in_tx`] decided already, in the same transaction.
pub struct Checked<'a> {
    /// Set when the rows were screened and the asset found enabled in this transaction (the
    /// API checks both while it reads the request, naming the item); else both are done here.
    pub screened: Option<crate::service::compliance::Screening>,
    /// What the person confirming reviewed (the draft's digest), when one did.
    pub reviewed_digest: Option<&'a str>,
}

/// Writes the payout inside the caller's write transaction. Everything that decides money is
/// read here, in that transaction: whether the asset is enabled, the fee rule, the approval
/// policy and the balance (admins change them while others create payouts); the payout's
/// totals are the sums of exactly the item rows written.
pub(crate) fn create_in_tx(
    conn: &mut DbConnection,
    actor: &Actor,
    draft: &Draft,
    idempotency_key: &str,
    checked: Checked<'_>,
    at: NaiveDateTime,
) -> Result<(PayoutRow, crate::service::views::payouts::PayoutJson), AppError> {
    let Checked { screened, reviewed_digest } = checked;
    actor.require(Role::can_create_payouts)?;
    if draft.rows.is_empty() {
        return Err(FieldErrors::form("A payout needs at least one recipient.").into());
    }
    if draft.rows.iter().any(|r| !r.is_valid()) {
        return Err(FieldErrors::form("Correct the rows with problems before confirming.").into());
    }
    if screened.is_none() && enabled_asset(conn, actor.org_id, draft.asset.code)?.is_none() {
        return Err(AppError::Conflict(format!(
            "{} is no longer enabled for your organization; an admin can enable it under Settings → Assets.",
            draft.asset.code
        )));
    }
    // Claims have no address yet: the payee gives it, and it goes through the book's change
    // control and screening before the row is sent.
    let lines: Vec<(u64, &str)> =
        draft.rows.iter().filter(|r| r.claim_for.is_none()).map(|r| (r.line, r.address.as_str())).collect();
    let claim_until = check_claims(conn, actor.org_id, draft, at)?;
    let payees = crate::service::payees::check_payable(conn, actor.org_id, draft.asset, &lines, at)?;
    // Decided again against the lists as they are in this transaction, whatever the review said.
    let screened = match screened {
        Some(screening) => screening,
        None => crate::service::compliance::refuse_listed(conn, &lines, at)?,
    }
    .evidence();
    if let Some(pricing) = &draft.fiat {
        check_fiat_pricing(conn, actor, draft, pricing, at)?;
    }
    let (rule, quote) = quote_rows(conn, actor.org_id, draft.kind, draft.asset, &draft.rows, None)?;
    let draft = Draft { rule, quote, ..draft.clone() };
    if let Some(seen) = reviewed_digest
        && seen != draft.digest()
    {
        return Err(AppError::Conflict(CHANGED_SINCE_REVIEW.into()));
    }
    let policy = crate::service::payouts::approvals::policy(conn, actor.org_id)?;
    let lookalikes = crate::service::payees::lookalike::find(conn, actor.org_id, &lines)?;
    check_acknowledged(&lookalikes, &draft.acknowledged_lookalikes)?;
    let flagged = policy.extra_for_new_addresses
        && crate::service::payees::address_flags(conn, actor, draft.asset, &lines)?.any();
    let items: Vec<(Amount, Amount)> = draft
        .rows
        .iter()
        .map(|row| {
            let amount = row.amount.expect("valid rows have an amount");
            (amount, draft.rule.fee_for(amount))
        })
        .collect();
    let overflow = || FieldErrors::form("The total is too large to pay in one payout.");
    let amount_total = Amount::sum(draft.asset, items.iter().map(|i| &i.0)).ok_or_else(overflow)?;
    let fee = Amount::sum(draft.asset, items.iter().map(|i| &i.1)).ok_or_else(overflow)?;
    let total_debit = amount_total.checked_add(fee).ok_or_else(overflow)?;
    // A lookalike needs one approval more than the policy asks, and so at least one.
    let mut approvals_required =
        policy.approvals_for(draft.quote.amount_total, flagged) + i32::from(!lookalikes.is_empty());
    let (over_limits, over) = super::limits::check_new(conn, actor.org_id, amount_total, at)?;
    if !over_limits.is_empty() {
        match over {
            OverLimit::Refuse => return Err(AppError::Conflict(super::limits::refusal(&over_limits))),
            OverLimit::Approve => approvals_required += 1,
        }
    }
    let (status, item_status) = if approvals_required > 0 {
        (PayoutStatus::Pending, ItemStatus::Waiting)
    } else {
        (PayoutStatus::InProgress, ItemStatus::Queued)
    };
    crate::service::access::second_factor::require_for_payout(conn, actor, amount_total, false)?;
    let payout = db::payouts::insert(
        conn,
        &NewPayoutRow {
            org_id: actor.org_id,
            kind: draft.kind,
            asset: draft.asset.code,
            status,
            description: &draft.description,
            amount_total: &amount_total.to_string(),
            fee: &fee.to_string(),
            total_debit: &total_debit.to_string(),
            item_count: draft.rows.len() as i32,
            approvals_required,
            idempotency_key: Some(idempotency_key),
            created_by: actor.user_id,
            created_at: at,
            updated_at: at,
            scheduled_for: draft.scheduled_for.filter(|t| *t > at),
        },
    )?;
    // A claim waits for its payee's address once the payout may start; its time runs from then.
    let claim_status = if status == PayoutStatus::Pending { ItemStatus::Waiting } else { ItemStatus::AwaitingAddress };
    let rows: Vec<NewItemRow> = draft
        .rows
        .iter()
        .zip(&items)
        .enumerate()
        .map(|(n, (row, (amount, fee)))| NewItemRow {
            payout_id: payout.id,
            org_id: actor.org_id,
            line: (n + 1) as i32,
            address: row.address.clone(),
            amount: amount.to_string(),
            fee: fee.to_string(),
            comment: row.comment.clone(),
            reference: row.reference.clone(),
            status: if row.claim_for.is_some() { claim_status } else { item_status },
            idempotency_key: format!("payout-{}-item-{}", payout.id, n + 1),
            updated_at: at,
            payee_id: row.claim_for.or_else(|| payees.get(&row.address).copied()),
            screened_at_confirmation: row.claim_for.is_none().then(|| screened.clone()),
            claim: row.claim_for.is_some(),
            claim_until: row.claim_for.and(claim_until).filter(|_| claim_status == ItemStatus::AwaitingAddress),
        })
        .collect();
    // The items told with the payout come back from their insert.
    let told_items = payout.item_count <= super::announce::MAX_ITEMS_TOLD;
    let mut stored_items = db::payouts::insert_items(conn, &rows, told_items)?;
    // RETURNING promises no order.
    stored_items.sort_unstable_by_key(|i| i.line);
    let confirmed: Vec<crate::service::valuation::values::ConfirmedRow> = items
        .iter()
        .enumerate()
        .map(|(n, (amount, fee))| crate::service::valuation::values::ConfirmedRow {
            line: (n + 1) as i32,
            amount: *amount,
            fee: *fee,
            entered: draft.fiat.as_ref().and_then(|f| f.entered.get(n).copied()),
        })
        .collect();
    let priced = draft.fiat.as_ref().map(|f| &f.quote);
    let confirmation = crate::service::valuation::values::record_confirmation(
        conn,
        actor.org_id,
        payout.id,
        draft.asset,
        &confirmed,
        priced,
        at,
    )?;
    let over_note = over_limits.iter().map(|b| b.to_string()).collect::<Vec<_>>().join("; ");
    let mut reason = match approvals_required {
        0 => "Created and confirmed".to_owned(),
        _ if !over_limits.is_empty() => {
            format!("Created; over the spend limit ({over_note}), so it needs one approval more")
        }
        _ => "Created; waiting for a manager's approval".to_owned(),
    };
    if !lookalikes.is_empty() {
        let lines: Vec<String> = lookalikes.iter().map(|l| l.line.to_string()).collect();
        reason.push_str(&format!(
            ". {} acknowledged the lookalike address on line{} {} as checked with the recipient by another \
             channel; one approval more",
            actor.email,
            if lines.len() == 1 { "" } else { "s" },
            lines.join(", ")
        ));
    }
    db::payouts::insert_event(
        conn,
        &NewEventRow {
            payout_id: payout.id,
            item_id: None,
            actor_user_id: Some(actor.user_id),
            from_status: None,
            to_status: status.as_str(),
            reason: &reason,
            created_at: at,
        },
    )?;
    // Told in the same transaction: no event is lost on a crash.
    let written = crate::service::views::payouts::Stored {
        items: told_items.then_some(stored_items),
        values: match told_items {
            true => confirmation.values.iter().map(crate::db::values::NewItemValue::as_stored).collect(),
            false => Vec::new(),
        },
        rate: confirmation.rate,
    };
    let told = super::announce::created(conn, &payout, written, &actor.email, at)?;
    if claim_until.is_some() && claim_status == ItemStatus::AwaitingAddress {
        super::claims::created(conn, payout.id, at)?;
    }
    if !lookalikes.is_empty() {
        super::announce::lookalikes_acknowledged(conn, &payout, actor, &lookalikes, at)?;
    }
    audit::record(
        conn,
        Entry::by(actor, "payout.created", "payout", payout.id).detail(format!(
            "{} {} to {}",
            draft.kind.label(),
            total_debit.money(),
            crate::domain::words::count(draft.rows.len(), "recipient", "recipients")
        )),
        at,
    )?;
    // The reservation last: it takes the asset's balance row (unless the spend limits took it
    // above), which every creation of the asset waits for until this transaction ends; then the
    // status counter, in the order the processor and the cancellations take the two. Refused
    // (short of funds), everything above is rolled back with it.
    let ctx = MoveContext {
        org_id: actor.org_id,
        payout_id: Some(payout.id),
        note: "Reserved for payout",
        actor_user_id: Some(actor.user_id),
        at,
    };
    ledger::move_funds(conn, Movement::Reserve, total_debit, &ctx)?;
    db::payouts::count_created(conn, &payout)?;
    Ok((payout, told))
}

/// Refuses claims whose payee cannot be asked for an address (named by line); when there are
/// claims, when they lapse if opened now, by the organization's limit read in this transaction.
fn check_claims(
    conn: &mut DbConnection,
    org_id: i64,
    draft: &Draft,
    at: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, AppError> {
    let claims: Vec<(u64, i64)> = draft.rows.iter().filter_map(|r| Some((r.line, r.claim_for?))).collect();
    if claims.is_empty() {
        return Ok(None);
    }
    let ids: Vec<i64> = claims.iter().map(|c| c.1).collect();
    let problems = crate::service::payees::claim_problems(conn, org_id, draft.asset, &ids)?;
    let messages: Vec<String> =
        claims.iter().zip(problems).filter_map(|((line, _), p)| Some(format!("Line {line}: {}", p?))).take(5).collect();
    if !messages.is_empty() {
        return Err(FieldErrors::form(messages.join(" ")).into());
    }
    Ok(Some(super::claims::until(conn, org_id, at)?))
}

/// Every lookalike row must be acknowledged by line. Otherwise nothing is created, and the
/// answer names each row (field `acknowledge_lookalikes`, one message per row).
fn check_acknowledged(lookalikes: &[crate::service::payees::Lookalike], acknowledged: &[u64]) -> Result<(), AppError> {
    let acknowledged: std::collections::HashSet<u64> = acknowledged.iter().copied().collect();
    let mut errors = FieldErrors::new();
    for l in lookalikes.iter().filter(|l| !acknowledged.contains(&l.line)) {
        errors.add(
            ACKNOWLEDGE_LOOKALIKES,
            format!(
                "{} Check line {} with the recipient by another channel, then acknowledge line {} to confirm.",
                l.sentence(),
                l.line,
                l.line
            ),
        );
    }
    Ok(errors.into_result(())?)
}

/// The field naming the lookalike rows to acknowledge, on the reviews and in the API.
pub const ACKNOWLEDGE_LOOKALIKES: &str = "acknowledge_lookalikes";

/// What one event row records: the payout's status, or one row's (a creation is written and told
/// by `create_in_tx` itself).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    Payout(PayoutStatus, PayoutStatus),
    Item(i64, ItemStatus, ItemStatus),
}

/// Writes the event row of `change` and tells the event stream, in the caller's transaction.
pub(crate) fn event(
    conn: &mut DbConnection,
    payout_id: i64,
    change: Change,
    actor_user_id: Option<i64>,
    reason: &str,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let (item_id, from, to) = match change {
        Change::Payout(from, to) => (None, Some(from.as_str()), to.as_str()),
        Change::Item(id, from, to) => (Some(id), Some(from.as_str()), to.as_str()),
    };
    db::payouts::insert_event(
        conn,
        &NewEventRow { payout_id, item_id, actor_user_id, from_status: from, to_status: to, reason, created_at: at },
    )?;
    // Told in the same transaction: no event is lost on a crash.
    match change {
        Change::Item(id, _, _) => super::announce::items(conn, payout_id, &[id], at),
        Change::Payout(from, to) if from != to => super::announce::payout(conn, payout_id, PAYOUT_STATUS_CHANGED, at),
        Change::Payout(..) => Ok(()),
    }
}

pub(crate) fn payout_asset(row: &PayoutRow) -> Result<&'static Asset, AppError> {
    asset::find(&row.asset).ok_or_else(|| AppError::Internal(format!("unknown stored asset {}", row.asset)))
}

/// How far ahead a pay day may be set.
pub const MAX_SCHEDULE_DAYS: i64 = 366;

/// A pay day as the review page's field sends it (`YYYY-MM-DDTHH:MM` in the organization's time
/// zone): its UTC instant, or None when empty.
pub fn parse_schedule(input: &str, zone: Zone, now: NaiveDateTime) -> Result<Option<NaiveDateTime>, FieldErrors> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        FieldErrors::single(
            "send_on",
            format!("Use a date and time like 2026-12-25T09:00 ({}), or leave it empty to send now.", zone.name()),
        )
    };
    if s.len() > 32 {
        return Err(bad());
    }
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .ok_or_else(bad)?;
    let at = zone.to_utc(local).map_err(|m| FieldErrors::single("send_on", m))?;
    check_schedule(at, now).map(Some).map_err(|m| FieldErrors::single("send_on", m))
}

/// A pay day must be ahead, and not too far.
pub fn check_schedule(at: NaiveDateTime, now: NaiveDateTime) -> Result<NaiveDateTime, String> {
    if at <= now {
        return Err("The pay day is in the past: choose a later time, or leave it empty to send now.".into());
    }
    if at > now + chrono::Duration::days(MAX_SCHEDULE_DAYS) {
        return Err(format!("A pay day can be at most {MAX_SCHEDULE_DAYS} days ahead."));
    }
    Ok(at)
}
