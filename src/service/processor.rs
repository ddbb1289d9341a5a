//! The background processor: claims items under a database lease, sends them through the rail,
//! and records each outcome with its ledger entries and an event, in one transaction.
//!
//! Exactly once: an item is marked `submitting` (with a lease) before the rail sees it, and
//! the rail is asked for the item's idempotency key before anything is sent. A processor that
//! dies between sending and recording leaves a lease that runs out; the next claim finds the
//! transfer on the rail and records it instead of sending it again.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::ledger::{self, MoveContext};
use super::now;
use super::payouts::{event, payout_asset, stored_amount};
use crate::db::payouts::{ItemRow, NewEventRow, PayoutRow};
use crate::db::{self, DbConnection};
use crate::domain::Amount;
use crate::domain::ledger::Movement;
use crate::domain::payout::{ItemStatus, PayoutKind, PayoutStatus};
use crate::error::AppError;
use crate::rails::{Rail, RailTx, Transfer, TxState};

#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// How long a claim holds an item before another processor may take it over.
    pub lease: chrono::Duration,
    /// Items claimed, and items polled, per tick.
    pub batch: i64,
    /// The assets this processor's rail pays; None for all.
    pub assets: Option<Vec<String>>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self { lease: chrono::Duration::seconds(30), batch: 2000, assets: None }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub claimed: usize,
    pub submitted: usize,
    pub completed: usize,
    pub failed: usize,
}

/// One round: claim and send what is ready, then record what the network settled.
pub fn tick(
    conn: &mut DbConnection,
    rail: &dyn Rail,
    owner: &str,
    config: &ProcessorConfig,
) -> Result<TickReport, AppError> {
    let mut report = TickReport::default();
    let claimed = claim(conn, owner, config)?;
    report.claimed = claimed.len();
    let mut payouts: HashMap<i64, PayoutRow> = HashMap::new();
    let mut by_payout: Vec<(i64, Vec<ItemRow>)> = Vec::new();
    for item in claimed {
        match by_payout.iter_mut().find(|(id, _)| *id == item.payout_id) {
            Some((_, list)) => list.push(item),
            None => by_payout.push((item.payout_id, vec![item])),
        }
    }
    // Each payout on its own: one that cannot proceed is logged (or set aside for review) and
    // never holds up another payout or organization.
    for (payout_id, items) in by_payout {
        match cached(conn, &mut payouts, payout_id).and_then(|payout| send(conn, rail, owner, &payout, &items)) {
            Ok(n) => report.submitted += n,
            Err(e) => {
                tracing::error!(payout = payout_id, error = %e, "sending failed; its items are retried after the lease")
            }
        }
    }
    let mut settled: Vec<(i64, Vec<Outcome>)> = Vec::new();
    let submitted = db::processor::submitted(conn, config.assets.as_deref(), config.batch)?;
    let keys: Vec<&str> = submitted.iter().map(|i| i.idempotency_key.as_str()).collect();
    let answers = rail.lookup_many(&keys);
    drop(keys);
    for (item, found) in submitted.into_iter().zip(answers) {
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                // One transaction the node cannot account for now must not hold up the others.
                tracing::warn!(item = item.id, error = %e, "rail lookup failed; trying again next round");
                continue;
            }
        };
        let Some(tx) = found else {
            // Never back to a payable state: a person decides, with the evidence of the chain.
            tracing::error!(item = item.id, "the rail has no record of a submitted item");
            let reason = "The network has no record of this transfer. Check the transaction hash on the explorer, then mark the row paid or failed.";
            if let Err(e) = to_review(conn, &item, reason) {
                tracing::error!(item = item.id, error = %e, "could not set the item aside for review");
            }
            continue;
        };
        let outcome = match tx.state {
            TxState::Pending { confirmations } => {
                if confirmations as i32 != item.confirmations
                    && let Err(e) = db::processor::set_confirmations(conn, item.id, confirmations as i32)
                {
                    tracing::warn!(item = item.id, error = %e, "could not record confirmations");
                }
                continue;
            }
            TxState::Confirmed { confirmations } => Ok(confirmations),
            TxState::Failed { reason } => Err(reason),
        };
        match settled.iter_mut().find(|(id, _)| *id == item.payout_id) {
            Some((_, list)) => list.push((item, outcome)),
            None => settled.push((item.payout_id, vec![(item, outcome)])),
        }
    }
    for (payout_id, outcomes) in settled {
        match cached(conn, &mut payouts, payout_id).and_then(|payout| finish(conn, &payout, &outcomes)) {
            Ok((completed, failed)) => {
                report.completed += completed;
                report.failed += failed;
            }
            // A database that did not answer, or a balance row too busy to swap: the same
            // outcomes are recorded next round.
            Err(e) if is_transient(&e) => {
                tracing::warn!(payout = payout_id, error = %e, "recording outcomes failed; trying again next round")
            }
            // Anything else fails the same way every round (a ledger that cannot settle these
            // rows): the rows go to a person with the reason instead of blocking the queue.
            Err(e) => {
                tracing::error!(payout = payout_id, error = %e, "outcomes cannot be recorded; rows set aside for review");
                let reason = format!(
                    "The network reported this transfer, but recording it failed: {e} Check the ledger and the \
                     explorer, then mark the row paid or failed."
                );
                for (item, _) in &outcomes {
                    if let Err(e) = to_review(conn, item, &reason) {
                        tracing::error!(item = item.id, error = %e, "could not set the item aside for review");
                    }
                }
            }
        }
    }
    Ok(report)
}

fn is_transient(e: &AppError) -> bool {
    match e {
        AppError::Db(_) | AppError::Pool(_) => true,
        AppError::Conflict(m) => !m.starts_with("Insufficient"),
        _ => false,
    }
}

/// submitted → needs review, with its reason and an event, in one transaction.
fn to_review(conn: &mut DbConnection, item: &ItemRow, reason: &str) -> Result<(), AppError> {
    let at = now();
    db::write_tx(conn, |conn| {
        if db::processor::to_review(conn, item.id, reason, at)? {
            let text = format!("Line {} needs review: {reason}", item.line);
            event(conn, item.payout_id, Some(item.id), None, Some("submitted"), "needs_review", &text, at)?;
        }
        Ok(())
    })
}

/// An item's end as recorded: its status, confirmations and failure reason.
type End<'a> = (ItemStatus, i32, Option<&'a str>);

/// What the rail said of a submitted item: confirmed with so many confirmations, or failed.
type Outcome = (ItemRow, Result<u32, String>);

fn cached(conn: &mut DbConnection, cache: &mut HashMap<i64, PayoutRow>, id: i64) -> Result<PayoutRow, AppError> {
    if let Some(p) = cache.get(&id) {
        return Ok(p.clone());
    }
    let p = db::payouts::find(conn, id)?;
    cache.insert(id, p.clone());
    Ok(p)
}

fn claim(conn: &mut DbConnection, owner: &str, config: &ProcessorConfig) -> Result<Vec<ItemRow>, AppError> {
    let at = now();
    let until = at + config.lease;
    let mut claimed = Vec::new();
    for payout_id in db::processor::payouts_with_queued_items(conn, config.assets.as_deref(), 20)? {
        claimed.extend(db::processor::claim_payout(conn, payout_id, owner, at, until)?);
        if claimed.len() as i64 >= config.batch {
            break;
        }
    }
    for item in db::processor::expired(conn, config.assets.as_deref(), at, config.batch)? {
        if db::processor::try_claim(conn, &item, owner, at, until)? {
            claimed.push(item);
        }
    }
    Ok(claimed)
}

/// Sends one payout's claimed items: those the rail already knows are recorded as they are;
/// the rest go out, as one transaction when the rail can batch.
fn send(
    conn: &mut DbConnection,
    rail: &dyn Rail,
    owner: &str,
    payout: &PayoutRow,
    items: &[ItemRow],
) -> Result<usize, AppError> {
    let asset = payout_asset(payout)?;
    let mut known: Vec<(&ItemRow, RailTx)> = Vec::new();
    let mut fresh: Vec<&ItemRow> = Vec::new();
    let keys: Vec<&str> = items.iter().map(|i| i.idempotency_key.as_str()).collect();
    for (item, found) in items.iter().zip(rail.lookup_many(&keys)) {
        match found {
            Ok(Some(tx)) => known.push((item, tx)),
            Ok(None) => fresh.push(item),
            Err(e) => {
                // Unknown whether it went out: leave it claimed; after the lease the next try looks again.
                tracing::warn!(item = item.id, error = %e, "rail lookup failed");
            }
        }
    }
    let transfers = |batch: &[&ItemRow]| -> Result<Vec<Transfer>, AppError> {
        batch
            .iter()
            .map(|i| {
                Ok(Transfer {
                    key: i.idempotency_key.clone(),
                    asset,
                    address: i.address.clone(),
                    amount: stored_amount(asset, &i.amount)?,
                })
            })
            .collect()
    };
    let batches: Vec<Vec<&ItemRow>> =
        if rail.supports_batch() { vec![fresh] } else { fresh.into_iter().map(|i| vec![i]).collect() };
    for batch in batches.into_iter().filter(|b| !b.is_empty()) {
        match rail.submit(&transfers(&batch)?) {
            Ok(txs) => known.extend(batch.into_iter().zip(txs)),
            Err(e) => {
                tracing::warn!(payout = payout.id, error = %e, "rail submit failed; will look up after the lease")
            }
        }
    }
    let at = now();
    // A batch shares one transaction: its items are recorded with one statement per hash.
    let mut by_hash: Vec<(&str, Vec<i64>)> = Vec::new();
    let mut slot: HashMap<&str, usize> = HashMap::new();
    for (item, tx) in &known {
        let n = *slot.entry(&tx.tx_hash).or_insert_with(|| {
            by_hash.push((&tx.tx_hash, Vec::new()));
            by_hash.len() - 1
        });
        by_hash[n].1.push(item.id);
    }
    db::write_tx(conn, |conn| -> Result<usize, AppError> {
        let mut sent = Vec::new();
        for (hash, ids) in &by_hash {
            let reason = format!("Sent on the {}: transaction {hash}", rail.label());
            let recorded = db::processor::mark_submitted(conn, ids, owner, hash, at)?;
            sent.extend(recorded.into_iter().map(|id| (id, reason.clone())));
        }
        let from = ItemStatus::Submitting.as_str();
        insert_item_events(conn, payout.id, from, |_| ItemStatus::Submitted.as_str(), &sent, at)?;
        Ok(sent.len())
    })
}

/// One event per item, written in a few statements: a mass payout has thousands.
fn insert_item_events(
    conn: &mut DbConnection,
    payout_id: i64,
    from: &str,
    to: impl Fn(usize) -> &'static str,
    items: &[(i64, String)],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let rows: Vec<NewEventRow> = items
        .iter()
        .enumerate()
        .map(|(n, (item_id, reason))| NewEventRow {
            payout_id,
            item_id: Some(*item_id),
            actor_user_id: None,
            from_status: Some(from),
            to_status: to(n),
            reason,
            created_at: at,
        })
        .collect();
    db::payouts::insert_events(conn, &rows)?;
    let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
    super::webhooks::item_events(conn, payout_id, &ids)
}

/// Records items' ends for one payout in one transaction: completed items settle their
/// reservation (amount + fee), failed ones release it, and when no item is left open the
/// payout ends too. Returns (completed, failed) counts of what this call recorded.
fn finish(conn: &mut DbConnection, payout: &PayoutRow, outcomes: &[Outcome]) -> Result<(usize, usize), AppError> {
    let asset = payout_asset(payout)?;
    let at = now();
    db::write_tx(conn, |conn| {
        let (mut settle, mut release) = (Amount::zero(asset), Amount::zero(asset));
        let (mut completed, mut failed) = (0, 0);
        let (mut ended, mut statuses) = (Vec::new(), Vec::new());
        // Items with the same end (status, confirmations, reason) are recorded by one statement.
        let mut groups: Vec<(End, Vec<&ItemRow>)> = Vec::new();
        let mut slot: HashMap<(&str, i32, Option<&str>), usize> = HashMap::new();
        for (item, outcome) in outcomes {
            let end = match outcome {
                Ok(c) => (ItemStatus::Completed, *c as i32, None),
                Err(reason) => (ItemStatus::Failed, item.confirmations, Some(reason.as_str())),
            };
            let n = *slot.entry((end.0.as_str(), end.1, end.2)).or_insert_with(|| {
                groups.push((end, Vec::new()));
                groups.len() - 1
            });
            groups[n].1.push(item);
        }
        for ((to, confirmations, error), items) in groups {
            let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
            let recorded: HashSet<i64> =
                db::processor::finish(conn, &ids, to.as_str(), confirmations, error, at)?.into_iter().collect();
            for item in items.into_iter().filter(|i| recorded.contains(&i.id)) {
                let held = stored_amount(asset, &item.amount)?
                    .checked_add(stored_amount(asset, &item.fee)?)
                    .ok_or_else(|| AppError::Internal("item total overflow".into()))?;
                let overflow = || AppError::Internal("payout total overflow".into());
                let reason = match error {
                    Some(e) => {
                        release = release.checked_add(held).ok_or_else(overflow)?;
                        failed += 1;
                        format!("Line {} failed: {e}", item.line)
                    }
                    None => {
                        settle = settle.checked_add(held).ok_or_else(overflow)?;
                        completed += 1;
                        format!("Line {} paid with {confirmations} confirmations", item.line)
                    }
                };
                ended.push((item.id, reason));
                statuses.push(to.as_str());
            }
        }
        insert_item_events(conn, payout.id, ItemStatus::Submitted.as_str(), |n| statuses[n], &ended, at)?;
        for (movement, amount, note) in
            [(Movement::Settle, settle, "Paid"), (Movement::Release, release, "Released: transfers failed")]
        {
            if !amount.is_zero() {
                let ctx =
                    MoveContext { org_id: payout.org_id, payout_id: Some(payout.id), note, actor_user_id: None, at };
                ledger::move_funds(conn, movement, amount, &ctx)?;
            }
        }
        if completed + failed > 0 {
            settle_payout(conn, payout, at)?;
        }
        Ok((completed, failed))
    })
}

pub(crate) fn settle_payout(conn: &mut DbConnection, payout: &PayoutRow, at: NaiveDateTime) -> Result<(), AppError> {
    let counts = db::payouts::item_status_counts(conn, payout.id)?;
    let count = |s: ItemStatus| counts.iter().find(|(k, _)| k == s.as_str()).map_or(0, |(_, n)| *n as usize);
    let kind = PayoutKind::parse(&payout.kind).unwrap_or(PayoutKind::Single);
    let (completed, failed) = (count(ItemStatus::Completed), count(ItemStatus::Failed));
    if let Some(end) = PayoutStatus::settle(kind, completed, failed, payout.item_count as usize)
        && db::payouts::cas_status(conn, payout.id, PayoutStatus::InProgress.as_str(), end.as_str(), at)?
    {
        let reason = match end {
            PayoutStatus::Completed => format!("All {completed} paid"),
            PayoutStatus::PartiallyCompleted => {
                format!("{completed} paid, {failed} failed; the failed rows' funds are released")
            }
            _ => format!("Nothing was paid; {failed} failed and the funds are released"),
        };
        event(conn, payout.id, None, None, Some(PayoutStatus::InProgress.as_str()), end.as_str(), &reason, at)?;
    }
    Ok(())
}

/// Runs the processor on its own thread until the process ends: one per rail. The owner name
/// identifies this process's leases.
pub fn spawn(
    pool: crate::db::Pool,
    rail: std::sync::Arc<dyn Rail>,
    config: ProcessorConfig,
    interval: std::time::Duration,
) {
    let owner = format!("{}-{}", std::process::id(), crate::crypto::random_hex(4));
    std::thread::Builder::new()
        .name(format!("processor-{}", rail.label()))
        .spawn(move || {
            tracing::info!(%owner, rail = rail.label(), "payout processor started");
            loop {
                // A round that found a full batch of work leaves more behind: the next one starts
                // at once, so a large mass payout moves at the database's pace, not the interval's.
                let mut more = false;
                match pool.get() {
                    Ok(mut conn) => match tick(&mut conn, rail.as_ref(), &owner, &config) {
                        Ok(r) if r != TickReport::default() => {
                            more = r.claimed as i64 >= config.batch || (r.completed + r.failed) as i64 >= config.batch;
                            tracing::info!(
                                claimed = r.claimed,
                                submitted = r.submitted,
                                completed = r.completed,
                                failed = r.failed,
                                "processor round"
                            )
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "processor round failed"),
                    },
                    Err(e) => tracing::error!(error = %e, "processor has no database connection"),
                }
                if !more {
                    std::thread::sleep(interval);
                }
            }
        })
        .expect("the processor thread starts");
}
