//! The background processor: claims items under a database lease, sends them through the rail,
//! and records each outcome with its ledger entries and an event, in one transaction.
//!
//! Exactly once: an item is marked `submitting` (with a lease) before the rail sees it, and
//! the rail is asked for the item's idempotency key before anything is sent. A processor that
//! dies between sending and recording leaves a lease that runs out; the next claim finds the
//! transfer on the rail and records it instead of sending it again.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use crate::clock::Clock;
use crate::db::payouts::{ItemRow, NewEventRow, PayoutRow};
use crate::db::{self, DbConnection};
use crate::domain::Amount;
use crate::domain::ledger::Movement;
use crate::domain::payout::{ItemStatus, PayoutStatus};
use crate::error::AppError;
use crate::error::stored_amount;
use crate::rails::{Rail, RailTx, Transfer, TxState};
use crate::service::payouts::ledger::{self, MoveContext};
use crate::service::payouts::{Change, event, payout_asset};
use crate::service::valuation::values::{self, PaidRow};

#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// How long a claim holds an item before another processor may take it over.
    pub lease: chrono::Duration,
    /// Items claimed, and items polled, per tick.
    pub batch: i64,
    /// The assets this processor's rail pays; None for all.
    pub assets: Option<Vec<String>>,
    /// What "now" is for pay days: a payout scheduled later is left alone until then.
    pub clock: crate::clock::Clock,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self { lease: chrono::Duration::seconds(30), batch: 2000, assets: None, clock: Default::default() }
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
    let by_payout = group_by(claimed.into_iter().map(|i| (i.payout_id, i)));
    // Each payout on its own: one that cannot proceed is logged (or set aside for review) and
    // never holds up another payout or organization.
    for (payout_id, items) in by_payout {
        match cached(conn, &mut payouts, payout_id)
            .and_then(|payout| send(conn, rail, owner, &config.clock, &payout, &items))
        {
            Ok((submitted, completed, failed)) => {
                report.submitted += submitted;
                report.completed += completed;
                report.failed += failed;
            }
            Err(e) => {
                tracing::error!(payout = payout_id, error = %e, "sending failed; its items are retried after the lease")
            }
        }
    }
    let mut settled: Vec<(i64, Outcome)> = Vec::new();
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
            if let Err(e) = to_review(conn, &config.clock, &item, reason) {
                tracing::error!(item = item.id, error = %e, "could not set the item aside for review");
            }
            continue;
        };
        // A stuck transaction replaced, cancelled, or an earlier version mined instead: the row
        // shows the hash that stands, and its history every hash it had.
        if !tx.tx_hash.is_empty()
            && item.tx_hash.as_deref() != Some(tx.tx_hash.as_str())
            && let Err(e) = record_new_hash(conn, &config.clock, &item, &tx.tx_hash)
        {
            tracing::warn!(item = item.id, error = %e, "could not record the transaction's new hash");
        }
        let outcome = match tx.state {
            TxState::Pending { confirmations } => {
                if confirmations as i32 != item.confirmations
                    && let Err(e) = db::processor::set_confirmations(conn, item.id, confirmations as i32)
                {
                    tracing::warn!(item = item.id, error = %e, "could not record confirmations");
                }
                continue;
            }
            TxState::Confirmed { confirmations, network_fee } => Ok((confirmations, network_fee)),
            TxState::Failed { reason } => Err(reason),
        };
        let mut item = item;
        item.log_index = tx.log_index.map(|n| n as i32);
        item.vout = tx.vout.map(|n| n as i32);
        item.instruction_index = tx.instruction.map(|n| n as i32);
        settled.push((item.payout_id, (item, outcome)));
    }
    for (payout_id, outcomes) in group_by(settled) {
        match cached(conn, &mut payouts, payout_id).and_then(|payout| finish(conn, &config.clock, &payout, &outcomes)) {
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
                    if let Err(e) = to_review(conn, &config.clock, item, &reason) {
                        tracing::error!(item = item.id, error = %e, "could not set the item aside for review");
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Screens the rows about to be handed to the rail against the lists as they are now (a list
/// can change after approval): a listed row is held, nothing sent for it, with an event saying
/// why. The rest go on. A screening that cannot be done stops the sending (never unscreened).
fn hold_listed<'a>(
    conn: &mut DbConnection,
    owner: &str,
    clock: &Clock,
    fresh: Vec<&'a ItemRow>,
) -> Result<Vec<&'a ItemRow>, AppError> {
    let addresses: Vec<&str> = fresh.iter().map(|i| i.address.as_str()).collect();
    let (listed, screening) = crate::service::compliance::screen(conn, &addresses, clock.now())?;
    let mut go = Vec::with_capacity(fresh.len());
    for (item, hit) in fresh.into_iter().zip(listed) {
        let Some(hit) = hit else {
            go.push(item);
            continue;
        };
        let at = clock.now();
        let reason = hit.message();
        let text = format!(
            "Line {} held for compliance, nothing sent: {reason} A manager may fail the row (its funds are \
             released); an admin may release it once the address is on no list.",
            item.line
        );
        let change = Change::Item(item.id, ItemStatus::Submitting, ItemStatus::Queued);
        let evidence = screening.evidence();
        db::write_tx(conn, |conn| -> Result<(), AppError> {
            if db::processor::hold(conn, item.id, owner, &reason, &evidence, at)? {
                event(conn, item.payout_id, change, None, &text, at)?;
                super::announce::held(conn, item.payout_id, item.id, &hit, at)?;
            }
            Ok(())
        })?;
        tracing::warn!(item = item.id, list = %hit.list, "a row's address is listed: held, nothing sent");
    }
    let ids: Vec<i64> = go.iter().map(|i| i.id).collect();
    db::processor::set_screened(conn, &ids, &screening.evidence())?;
    Ok(go)
}

/// The row's transaction now goes by `hash`; the history keeps the one it had.
fn record_new_hash(conn: &mut DbConnection, clock: &Clock, item: &ItemRow, hash: &str) -> Result<(), AppError> {
    let at = clock.now();
    let before = item.tx_hash.as_deref().unwrap_or("none");
    let text = format!("Line {}: transaction {hash} now stands in place of {before} (a replacement)", item.line);
    let change = Change::Item(item.id, ItemStatus::Submitted, ItemStatus::Submitted);
    db::write_tx(conn, |conn| {
        db::processor::set_tx_hash(conn, item.id, hash)?;
        event(conn, item.payout_id, change, None, &text, at)
    })
}

fn is_transient(e: &AppError) -> bool {
    match e {
        AppError::Db(_) | AppError::Pool(_) => true,
        AppError::Conflict(m) => !m.starts_with("Insufficient"),
        _ => false,
    }
}

/// submitted → needs review, with its reason and an event, in one transaction.
fn to_review(conn: &mut DbConnection, clock: &Clock, item: &ItemRow, reason: &str) -> Result<(), AppError> {
    let at = clock.now();
    db::write_tx(conn, |conn| {
        if db::processor::to_review(conn, item.id, reason, at)? {
            let text = format!("Line {} needs review: {reason}", item.line);
            event(
                conn,
                item.payout_id,
                Change::Item(item.id, ItemStatus::Submitted, ItemStatus::NeedsReview),
                None,
                &text,
                at,
            )?;
        }
        Ok(())
    })
}

/// An item's end as recorded: its status, confirmations and failure reason.
type End<'a> = (ItemStatus, i32, Option<&'a str>);

/// What the rail said of a submitted item: confirmed with so many confirmations (and what the
/// network charged for it, when known), or failed.
type Outcome = (ItemRow, Result<(u32, Option<Amount>), String>);

fn cached(conn: &mut DbConnection, cache: &mut HashMap<i64, PayoutRow>, id: i64) -> Result<PayoutRow, AppError> {
    if let Some(p) = cache.get(&id) {
        return Ok(p.clone());
    }
    let p = db::payouts::find(conn, id)?;
    cache.insert(id, p.clone());
    Ok(p)
}

fn claim(conn: &mut DbConnection, owner: &str, config: &ProcessorConfig) -> Result<Vec<ItemRow>, AppError> {
    let at = config.clock.now();
    let until = at + config.lease;
    let mut claimed = Vec::new();
    let due = at;
    for payout_id in db::processor::payouts_with_queued_items(conn, config.assets.as_deref(), due, 20)? {
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
/// the rest go out, as one transaction when the rail can batch. Returns how many were recorded
/// as (submitted, completed, failed).
fn send(
    conn: &mut DbConnection,
    rail: &dyn Rail,
    owner: &str,
    clock: &Clock,
    payout: &PayoutRow,
    items: &[ItemRow],
) -> Result<(usize, usize, usize), AppError> {
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
    let fresh = hold_listed(conn, owner, clock, fresh)?;
    let transfers = |batch: &[&ItemRow]| -> Result<Vec<Transfer>, AppError> {
        batch
            .iter()
            .map(|i| {
                Ok(Transfer {
                    key: i.idempotency_key.clone(),
                    org_id: i.org_id,
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
    // What the network already settled (a rail that confirms at once, or a transfer found
    // settled after a crash) is recorded as ended now, in the same transaction: one status
    // change and one event per row instead of two.
    let mut open: Vec<(&str, &ItemRow)> = Vec::new();
    let mut ended: Vec<Outcome> = Vec::new();
    for (item, tx) in &known {
        let result = match &tx.state {
            TxState::Pending { .. } => {
                open.push((&tx.tx_hash, item));
                continue;
            }
            TxState::Confirmed { confirmations, network_fee } => Ok((*confirmations, *network_fee)),
            TxState::Failed { reason } => Err(reason.clone()),
        };
        let mut item = (*item).clone();
        // A row failed before anything was sent (a batch row that would revert) has no hash.
        item.tx_hash = (!tx.tx_hash.is_empty()).then(|| tx.tx_hash.clone());
        item.log_index = tx.log_index.map(|n| n as i32);
        item.vout = tx.vout.map(|n| n as i32);
        item.instruction_index = tx.instruction.map(|n| n as i32);
        ended.push((item, result));
    }
    let sender = Sender { owner, rail: rail.label() };
    let at = clock.now();
    let record = |conn: &mut DbConnection, open: &[(&str, &ItemRow)], ended: &[Outcome]| {
        db::write_tx(conn, |conn| -> Result<(usize, usize, usize), AppError> {
            let sent = mark_sent(conn, payout, &sender, open, at)?;
            let (completed, failed) = record_ends(conn, payout, ended, Some(&sender), at)?;
            Ok((sent, completed, failed))
        })
    };
    match record(conn, &open, &ended) {
        // Ends that cannot be recorded now (a ledger that refuses them) must not keep the sent
        // items unrecorded: all are recorded as submitted, and the next round's settling sets
        // aside for review what it cannot record.
        Err(e) if !ended.is_empty() && !is_transient(&e) => {
            tracing::error!(payout = payout.id, error = %e, "ends found at sending cannot be recorded; recorded as sent");
            let all: Vec<(&str, &ItemRow)> = open
                .iter()
                .copied()
                .chain(ended.iter().map(|(i, _)| (i.tx_hash.as_deref().unwrap_or(""), i)))
                .collect();
            record(conn, &all, &[])
        }
        other => other,
    }
}

/// submitting → submitted for items the network has not settled yet, one statement per
/// transaction hash (a batch shares one), with an event per item.
fn mark_sent(
    conn: &mut DbConnection,
    payout: &PayoutRow,
    sender: &Sender,
    open: &[(&str, &ItemRow)],
    at: NaiveDateTime,
) -> Result<usize, AppError> {
    let mut sent = Vec::new();
    for (hash, items) in group_by(open.iter().copied()) {
        let reason = format!("Sent on the {}: transaction {hash}", sender.rail);
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        let recorded = db::processor::mark_submitted(conn, &ids, sender.owner, hash, at)?;
        sent.extend(recorded.into_iter().map(|id| (id, reason.clone())));
    }
    insert_item_events(conn, payout.id, ItemStatus::Submitting, |_| ItemStatus::Submitted, &sent, at)?;
    Ok(sent.len())
}

/// Pairs grouped by key in the order keys first appear.
fn group_by<K: Eq + std::hash::Hash + Copy, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Vec<(K, Vec<V>)> {
    let mut groups: Vec<(K, Vec<V>)> = Vec::new();
    let mut slot: HashMap<K, usize> = HashMap::new();
    for (key, value) in pairs {
        let n = *slot.entry(key).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[n].1.push(value);
    }
    groups
}

/// The processor holding the claim on items it is sending, and its rail.
struct Sender<'a> {
    owner: &'a str,
    rail: &'static str,
}

/// One event per item, written in a few statements: a mass payout has thousands.
fn insert_item_events(
    conn: &mut DbConnection,
    payout_id: i64,
    from: ItemStatus,
    to: impl Fn(usize) -> ItemStatus,
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
            from_status: Some(from.as_str()),
            to_status: to(n).as_str(),
            reason,
            created_at: at,
        })
        .collect();
    db::payouts::insert_events(conn, &rows)?;
    let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
    super::announce::items(conn, payout_id, &ids, at)
}

/// Records items' ends for one payout in one transaction. Returns (completed, failed) counts of
/// what this call recorded.
fn finish(
    conn: &mut DbConnection,
    clock: &Clock,
    payout: &PayoutRow,
    outcomes: &[Outcome],
) -> Result<(usize, usize), AppError> {
    let at = clock.now();
    db::write_tx(conn, |conn| record_ends(conn, payout, outcomes, None, at))
}

/// Completed items settle their reservation (amount + fee), failed ones release it, and when no
/// item is left open the payout ends too. Items come from `submitted`, or straight from
/// `submitting` when `sent` names the claim they were sent under (each item then carries the
/// hash of its transaction, recorded with its end). Runs inside the caller's transaction.
fn record_ends(
    conn: &mut DbConnection,
    payout: &PayoutRow,
    outcomes: &[Outcome],
    sent: Option<&Sender>,
    at: NaiveDateTime,
) -> Result<(usize, usize), AppError> {
    let asset = payout_asset(payout)?;
    let (mut settle, mut release) = (Amount::zero(asset), Amount::zero(asset));
    let (mut completed, mut failed) = (0, 0);
    let (mut ended, mut statuses, mut paid, mut paid_to) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Items with the same end (status, confirmations, reason) are recorded by one statement.
    let ends = outcomes.iter().map(|(item, outcome)| {
        let end: End = match outcome {
            Ok((c, _)) => (ItemStatus::Completed, *c as i32, None),
            Err(reason) => (ItemStatus::Failed, item.confirmations, Some(reason.as_str())),
        };
        let hash = sent.and(item.tx_hash.as_deref());
        let network_fee = outcome.as_ref().ok().and_then(|(_, fee)| *fee);
        ((end, hash), (item, network_fee))
    });
    for (((to, confirmations, error), hash), items) in group_by(ends) {
        let ids: Vec<i64> = items.iter().map(|(i, _)| i.id).collect();
        let status = to.as_str();
        let recorded: HashSet<i64> = match sent {
            Some(s) => db::processor::finish_sent(conn, &ids, s.owner, hash, status, confirmations, error, at)?,
            None => db::processor::finish(conn, &ids, status, confirmations, error, at)?,
        }
        .into_iter()
        .collect();
        for (item, network_fee) in items.into_iter().filter(|(i, _)| recorded.contains(&i.id)) {
            if error.is_none() && (item.log_index.is_some() || item.vout.is_some() || item.instruction_index.is_some())
            {
                db::processor::set_place(conn, item)?;
            }
            let (amount, fee) = (stored_amount(asset, &item.amount)?, stored_amount(asset, &item.fee)?);
            let held = amount.checked_add(fee).ok_or_else(|| AppError::Internal("item total overflow".into()))?;
            let overflow = || AppError::Internal("payout total overflow".into());
            let mut reason = match error {
                Some(e) => {
                    release = release.checked_add(held).ok_or_else(overflow)?;
                    failed += 1;
                    format!("Line {} failed: {e}", item.line)
                }
                None => {
                    settle = settle.checked_add(held).ok_or_else(overflow)?;
                    completed += 1;
                    paid.push(PaidRow { line: item.line, amount, fee, network_fee });
                    paid_to.push(crate::service::payees::known::PaidRow {
                        item_id: item.id,
                        line: item.line,
                        address: item.address.as_str(),
                        payee_id: item.payee_id,
                    });
                    format!("Line {} paid with {confirmations} confirmations", item.line)
                }
            };
            if let (Some(s), Some(h)) = (sent, hash) {
                reason.push_str(&format!(" (sent on the {}: transaction {h})", s.rail));
            }
            ended.push((item.id, reason));
            statuses.push(to);
        }
    }
    let from = if sent.is_some() { ItemStatus::Submitting } else { ItemStatus::Submitted };
    insert_item_events(conn, payout.id, from, |n| statuses[n], &ended, at)?;
    values::record_payment(conn, payout.org_id, payout.id, asset, &paid, at)?;
    let sums: Vec<(Amount, Amount)> = paid.iter().map(|p| (p.amount, p.fee)).collect();
    super::paid_totals::record(conn, payout.org_id, asset, &sums, at)?;
    // Paid, so known: a later row to one of these is not a first payment, one resembling it is
    // a lookalike.
    crate::service::payees::known::record_paid(conn, payout.org_id, payout.id, &paid_to, at)?;
    for (movement, amount, note) in
        [(Movement::Settle, settle, "Paid"), (Movement::Release, release, "Released: transfers failed")]
    {
        if !amount.is_zero() {
            let ctx = MoveContext { org_id: payout.org_id, payout_id: Some(payout.id), note, actor_user_id: None, at };
            ledger::move_funds(conn, movement, amount, &ctx)?;
        }
    }
    if completed + failed > 0 {
        settle_payout(conn, payout, at)?;
    }
    Ok((completed, failed))
}

pub(crate) fn settle_payout(conn: &mut DbConnection, payout: &PayoutRow, at: NaiveDateTime) -> Result<(), AppError> {
    let counts = db::payouts::item_status_counts(conn, payout.id)?;
    let count = |s: ItemStatus| counts.iter().find(|(k, _)| k == s.as_str()).map_or(0, |(_, n)| *n as usize);
    let kind = payout.kind;
    let (completed, failed) = (count(ItemStatus::Completed), count(ItemStatus::Failed));
    let unclaimed = count(ItemStatus::Cancelled);
    if let Some(end) = PayoutStatus::settle(kind, completed, failed, unclaimed, payout.item_count as usize)
        && db::payouts::cas_status(conn, payout.id, PayoutStatus::InProgress, end, at)?
    {
        let unclaimed_note = match unclaimed {
            0 => String::new(),
            n => format!("; {} unclaimed, released", crate::domain::words::count(n, "claim", "claims")),
        };
        let reason = match end {
            PayoutStatus::Completed => format!("All {completed} paid"),
            PayoutStatus::PartiallyCompleted => {
                format!("{completed} paid, {failed} failed{unclaimed_note}; the unpaid rows' funds are released")
            }
            PayoutStatus::Cancelled => "Nobody claimed it in time; the funds are released".to_owned(),
            _ => format!("Nothing was paid; {failed} failed{unclaimed_note} and the funds are released"),
        };
        event(conn, payout.id, Change::Payout(PayoutStatus::InProgress, end), None, &reason, at)?;
    }
    Ok(())
}

/// Runs the processor on its own thread until the process is stopped: one per rail. The owner
/// name identifies this process's leases. On stop it finishes its round, then gives back the
/// leases it still holds so another process takes over at once instead of when they expire.
pub fn spawn(
    pool: crate::db::Pool,
    rail: std::sync::Arc<dyn Rail>,
    config: ProcessorConfig,
    interval: std::time::Duration,
    shutdown: &crate::shutdown::Shutdown,
) {
    let owner = format!("{}-{}", std::process::id(), crate::crypto::random_hex(4));
    let stop = shutdown.clone();
    shutdown.spawn(&format!("processor-{}", rail.label()), move || {
        tracing::info!(%owner, rail = rail.label(), "payout processor started");
        while !stop.is_stopping() {
            // A round that found a full batch of work leaves more behind: the next one starts
            // at once, so a large mass payout moves at the database's pace, not the interval's.
            let mut more = false;
            match pool.get() {
                Ok(mut conn) => match tick(&mut conn, rail.as_ref(), &owner, &config) {
                    Ok(r) if r != TickReport::default() => {
                        crate::metrics::rows_ended(r.completed, r.failed);
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
                stop.pause(interval);
            }
        }
        let released = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
            crate::db::processor::release_leases(&mut conn, &owner, config.clock.now()).map_err(|e| e.to_string())
        });
        match released {
            Ok(n) => tracing::info!(%owner, released = n, "payout processor stopped"),
            Err(e) => tracing::error!(%owner, error = %e, "payout processor stopped; its leases run out on their own"),
        }
    });
}
