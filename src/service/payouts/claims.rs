//! Claims (pull payouts): a row names a payee who has no address yet. Its funds are reserved when
//! the payout is confirmed; it waits "awaiting address" until the payee gives an address that
//! becomes payable under the organization's rules (change control, cooling-off, screening), then
//! it is sent like any row. Unclaimed by its limit, it is cancelled and its funds released. The
//! payee is asked and reminded by the outbound room, which reads the rows' events.

use chrono::NaiveDateTime;

use crate::db::payouts::ItemRow;
use crate::db::{self, DbConnection};
use crate::domain::asset::ASSETS;
use crate::domain::payout::{ItemStatus, PayoutStatus};
use crate::error::AppError;
use crate::service::payouts::ledger;

use super::create::{Change, event, payout_asset};
use super::processor::settle_payout;

/// How long a payee may take, in days, at most (and at least 1).
pub const MAX_CLAIM_DAYS: i32 = 365;
/// Claims looked at per sweep and kind of work.
const PER_SWEEP: i64 = 200;

/// An admin sets how many days payees have to answer a claim (claims already open keep theirs);
/// audited.
pub fn set_days(conn: &mut DbConnection, actor: &crate::service::access::Actor, text: &str) -> Result<i32, AppError> {
    actor.require(crate::domain::account::Role::can_administer)?;
    let days = text.trim().parse::<i32>().ok().filter(|d| (1..=MAX_CLAIM_DAYS).contains(d)).ok_or_else(|| {
        crate::domain::FieldErrors::single(
            "claim_days",
            format!("Use a whole number of days from 1 to {MAX_CLAIM_DAYS}."),
        )
    })?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        if db::orgs::find(conn, actor.org_id)?.claim_days != days {
            db::orgs::set_claim_days(conn, actor.org_id, days)?;
            let entry =
                crate::service::access::audit::Entry::by(actor, "settings.claim_days", "organization", actor.org_id)
                    .detail(format!("{days} days"));
            crate::service::access::audit::record(conn, entry, at)?;
        }
        Ok(days)
    })
}

/// When a claim opened at `at` lapses, by the organization's limit.
pub(crate) fn until(conn: &mut DbConnection, org_id: i64, at: NaiveDateTime) -> Result<NaiveDateTime, AppError> {
    let days = db::orgs::find(conn, org_id)?.claim_days.clamp(1, MAX_CLAIM_DAYS);
    Ok(at + chrono::Duration::days(days.into()))
}

/// A payout's claims start waiting for their payees' addresses when its approval completes: each
/// told as a row event, which asks the payee by email. One statement when it has none.
pub(crate) fn opened(conn: &mut DbConnection, org_id: i64, payout_id: i64, at: NaiveDateTime) -> Result<(), AppError> {
    let ids = db::claims::waiting(conn, payout_id)?;
    if ids.is_empty() {
        return Ok(());
    }
    let lapses = until(conn, org_id, at)?;
    db::claims::open(conn, &ids, lapses, at)?;
    super::announce::items(conn, payout_id, &ids, at)
}

/// A payout created without approval: its claims are already waiting for their payees (written
/// so), each told as a row event.
pub(crate) fn created(conn: &mut DbConnection, payout_id: i64, at: NaiveDateTime) -> Result<(), AppError> {
    let ids = db::claims::open_of_payout(conn, payout_id)?;
    super::announce::items(conn, payout_id, &ids, at)
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub answered: usize,
    pub lapsed: usize,
}

/// One round: claims whose payee's address is now payable are given it and queued; claims past
/// their limit are cancelled and released. Each claim in its own transaction (one that cannot
/// proceed is logged and left; the others go on); safe to run in several processes at once.
pub fn sweep(conn: &mut DbConnection, at: NaiveDateTime) -> Result<SweepReport, AppError> {
    let mut report = SweepReport::default();
    for item in db::claims::lapsed(conn, at, PER_SWEEP)? {
        match lapse(conn, &item, at) {
            Ok(true) => report.lapsed += 1,
            Ok(false) => {}
            Err(e @ (AppError::Db(_) | AppError::Pool(_))) => return Err(e),
            Err(e) => tracing::error!(item = item.id, error = %e, "a lapsed claim could not be cancelled"),
        }
    }
    let mut networks: Vec<&str> = ASSETS.iter().map(|a| a.network).collect();
    networks.sort_unstable();
    networks.dedup();
    for network in networks {
        let assets: Vec<&str> = ASSETS.iter().filter(|a| a.network == network).map(|a| a.code).collect();
        for item in db::claims::answerable(conn, network, &assets, at, PER_SWEEP)? {
            match answer(conn, &item, at) {
                Ok(true) => report.answered += 1,
                Ok(false) => {}
                Err(e @ (AppError::Db(_) | AppError::Pool(_))) => return Err(e),
                Err(e) => tracing::error!(item = item.id, error = %e, "a claim could not be given its address"),
            }
        }
    }
    Ok(report)
}

/// Gives the claim its payee's payable address and queues it, screened against the lists in
/// force now (a listed address leaves the claim open). False when there is nothing to do.
fn answer(conn: &mut DbConnection, item: &ItemRow, at: NaiveDateTime) -> Result<bool, AppError> {
    let Some(payee_id) = item.payee_id else { return Ok(false) };
    db::write_tx(conn, |conn| {
        // The payout row first, as every transition takes it.
        let payout = db::payouts::lock_in_org(conn, item.org_id, item.payout_id)?.ok_or(AppError::NotFound)?;
        if payout.status != PayoutStatus::InProgress {
            return Ok(false);
        }
        let asset = payout_asset(&payout)?;
        let Some(address) = crate::service::payees::claim_address(conn, item.org_id, asset, payee_id, at)? else {
            return Ok(false);
        };
        let screened = match crate::service::compliance::refuse_listed(conn, &[(1, address.address.as_str())], at) {
            Ok(s) => s.evidence(),
            Err(AppError::Db(e)) => return Err(AppError::Db(e)),
            // Listed: the claim stays open (an admin sees the address's own screening).
            Err(_) => return Ok(false),
        };
        if !db::claims::answer(conn, item.id, &address.address, &screened, at)? {
            return Ok(false);
        }
        let proven = if address.proof.is_some() { ", ownership proven" } else { "" };
        let reason = format!("Line {}: claimed by the payee, paid to {}{proven}", item.line, address.address);
        let change = Change::Item(item.id, ItemStatus::AwaitingAddress, ItemStatus::Queued);
        event(conn, payout.id, change, None, &reason, at)?;
        super::announce::claimed(conn, &payout, item.id, &address, at)?;
        Ok(true)
    })
}

/// Cancels a claim nobody answered in time and releases its amount and fee.
fn lapse(conn: &mut DbConnection, item: &ItemRow, at: NaiveDateTime) -> Result<bool, AppError> {
    db::write_tx(conn, |conn| {
        let payout = db::payouts::lock_in_org(conn, item.org_id, item.payout_id)?.ok_or(AppError::NotFound)?;
        let until = item.claim_until.unwrap_or(at);
        let reason = format!(
            "Line {}: not claimed by {} UTC; cancelled and its funds released",
            item.line,
            until.format("%Y-%m-%d %H:%M")
        );
        if !db::claims::lapse(conn, item.id, &reason, at)? {
            return Ok(false);
        }
        ledger::release_row(conn, &payout, item, "Released: a claim nobody claimed in time", None, at)?;
        event(
            conn,
            payout.id,
            Change::Item(item.id, ItemStatus::AwaitingAddress, ItemStatus::Cancelled),
            None,
            &reason,
            at,
        )?;
        settle_payout(conn, &payout, at)?;
        Ok(true)
    })
}

/// Runs the sweep on its own thread every `interval`, for the life of the process.
pub fn spawn(pool: db::Pool, clock: crate::clock::Clock, interval: std::time::Duration) {
    super::rounds::spawn("claims", pool, clock, interval, sweep);
}

/// A claim still waiting for its payee's address.
pub struct OpenClaim {
    pub item: ItemRow,
    pub asset: &'static crate::domain::asset::Asset,
}

/// The organization's open claims (of one payee, if given), by item id after `after_id`.
pub fn open(
    conn: &mut DbConnection,
    actor: &crate::service::access::Actor,
    payee_id: Option<i64>,
    after_id: i64,
    limit: i64,
) -> Result<Vec<OpenClaim>, AppError> {
    db::claims::open_in_org(conn, actor.org_id, payee_id, after_id, limit.clamp(1, 200))?
        .into_iter()
        .map(|(item, asset)| {
            let asset = crate::domain::asset::find(&asset)
                .ok_or_else(|| AppError::Internal(format!("unknown stored asset {asset}")))?;
            Ok(OpenClaim { item, asset })
        })
        .collect()
}
