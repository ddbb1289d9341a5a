//! Creating payouts (single, mass and API through the same `create_in_tx`) and cancelling them:
//! every price, policy and balance read inside the transaction that writes the payout.

use chrono::NaiveDateTime;

use crate::db::payouts::{NewEventRow, NewItemRow, NewPayoutRow, PayoutRow};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::event::PAYOUT_STATUS_CHANGED;
use crate::domain::fee::{FeeRule, Operation, Quote};
use crate::domain::ledger::Movement;
use crate::domain::payout::{ItemStatus, PayoutKind, PayoutStatus};
use crate::domain::registry::{Row, RowInput, check_duplicates, check_text};
use crate::domain::spend_limit::OverLimit;
use crate::domain::zone::Zone;
use crate::domain::{Amount, FieldErrors};
use crate::error::{AppError, stored_amount};
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::access::org_settings;
use crate::service::payouts::ledger::{self, MoveContext};

pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// The answer to a Confirm whose review no longer matches what would be created.
pub const CHANGED_SINCE_REVIEW: &str = "This payout changed since you reviewed it (its rows, totals or service fee): \
     check the review below again before confirming.";

/// A payout about to be created: checked rows and what it will cost.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: PayoutKind,
    pub asset: &'static Asset,
    pub description: String,
    pub rows: Vec<Row>,
    /// The fee rule the quote was priced by.
    pub rule: FeeRule,
    pub quote: Quote,
    /// The pay day chosen on the review page: rows are sent then, not before.
    pub scheduled_for: Option<NaiveDateTime>,
    /// What it is worth in the reporting currency now, as the review shows it.
    pub value: super::values::Preview,
    /// Set when the amounts were typed in the reporting currency: the rate they were converted
    /// at and each row's typed amount, in row order.
    pub fiat: Option<FiatPricing>,
    /// The spend limits this payout would pass as things stand at the review, and what happens
    /// then (decided again at Confirm, inside the create transaction).
    pub over_limits: Vec<crate::domain::spend_limit::Breach>,
    pub over_limit: OverLimit,
    /// The lines whose lookalike address the person confirming says they checked with the
    /// recipient by another channel.
    pub acknowledged_lookalikes: Vec<u64>,
}

/// Fiat-typed rows and the rate that turned them into the crypto amounts that are reserved and
/// sent (rounded up to the asset's smallest unit: the recipient never gets less than agreed).
#[derive(Debug, Clone)]
pub struct FiatPricing {
    pub quote: crate::service::access::rates::Quote,
    pub entered: Vec<crate::domain::fiat::Fiat>,
}

impl FiatPricing {
    /// The typed amounts' sum.
    pub fn total(&self) -> Option<crate::domain::fiat::Fiat> {
        let first = self.entered.first()?;
        let minor = self.entered.iter().try_fold(0i128, |t, f| t.checked_add(f.minor))?;
        Some(crate::domain::fiat::Fiat { minor, currency: first.currency })
    }
}

/// The answer to a Confirm of fiat-typed amounts when the rate moved past the organization's
/// tolerance or went stale since the review.
pub const RATE_MOVED: &str = "The exchange rate moved since you reviewed this payout: the amounts below are \
     converted at the current rate; check them again before confirming.";

/// What the single-payout form sends; strings as typed.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct SinglePayoutForm {
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub address: String,
    /// The currency the amount is typed in: empty or the asset's code for the asset itself, or
    /// the organization's reporting currency.
    #[serde(default)]
    pub amount_in: String,
    /// The rate the review converted a fiat amount at (a hidden field of the review).
    #[serde(default)]
    pub rate: String,
}

fn enabled_asset(conn: &mut DbConnection, org_id: i64, code: &str) -> Result<Option<&'static Asset>, AppError> {
    let enabled = org_settings::enabled_assets(conn, org_id)?;
    Ok(asset::find(code).filter(|a| enabled.iter().any(|e| e.code == a.code)))
}

/// Checks a single payout and prices it against the current balance. Field errors are named
/// `asset`, `amount`, `address`, `description`.
pub fn check_single(conn: &mut DbConnection, actor: &Actor, form: &SinglePayoutForm) -> Result<Draft, AppError> {
    actor.require(Role::can_create_payouts)?;
    let mut errors = FieldErrors::new();
    let asset = enabled_asset(conn, actor.org_id, &form.asset)?;
    let Some(asset) = asset else {
        errors.add("asset", "Choose one of your organization's payout currencies.");
        if form.amount.trim().is_empty() {
            errors.add("amount", "Enter an amount.");
        }
        if form.address.trim().is_empty() {
            errors.add("address", "Enter an address.");
        }
        return Err(errors.into());
    };
    let fiat = fiat_amount(conn, actor, asset, form, &mut errors)?;
    let crypto_text = fiat.as_ref().map(|(amount, _)| amount.to_string());
    let amount_text = crypto_text.as_deref().unwrap_or(&form.amount);
    let row = Row::check(asset, 1, &RowInput { address: &form.address, amount: amount_text, ..Default::default() });
    for issue in &row.errors {
        errors.add(issue.column, issue.message.clone());
    }
    if let Err(e) = check_text(&form.description, MAX_DESCRIPTION_CHARS) {
        errors.add("description", e);
    }
    errors.into_result(())?;
    // Said on the form already; the create's transaction checks it again.
    crate::service::payees::check_payable(conn, actor.org_id, asset, &[(1, row.address.as_str())], actor.now())?;
    let draft = price(conn, actor, PayoutKind::Single, asset, form.description.trim(), vec![row])?;
    Ok(Draft { fiat: fiat.map(|(_, pricing)| pricing), ..draft })
}

/// A single payout's amount typed in the reporting currency: the crypto amount it converts to
/// and how. At review the current rate converts it; at Confirm the review's rate (a hidden
/// field) does, and the create transaction checks that rate against the current one. An amount
/// in the asset itself is None.
fn fiat_amount(
    conn: &mut DbConnection,
    actor: &Actor,
    asset: &'static Asset,
    form: &SinglePayoutForm,
    errors: &mut FieldErrors,
) -> Result<Option<(Amount, FiatPricing)>, AppError> {
    use crate::domain::fiat::{self, Fiat};
    use crate::service::access::rates::{self, Quote};
    let unit = form.amount_in.trim();
    if unit.is_empty() || unit.eq_ignore_ascii_case(asset.code) {
        return Ok(None);
    }
    let reporting = rates::reporting(conn, actor.org_id)?;
    if !unit.eq_ignore_ascii_case(reporting.currency.code) {
        errors.add("amount_in", format!("Type the amount in {} or in {}.", asset.code, reporting.currency.code));
        return Ok(None);
    }
    let typed = match Fiat::parse(&form.amount, reporting.currency) {
        Ok(f) => f,
        Err(e) => {
            errors.add("amount", e);
            return Ok(None);
        }
    };
    let Some(current) = rates::rate_now(conn, actor.org_id, asset, &reporting, actor.now())?.current().cloned() else {
        errors.add(
            "amount",
            format!(
                "There is no current {} rate in {}: type the amount in {}, or ask an admin to record a rate \
                 (Settings → Rates).",
                asset.code, reporting.currency.code, asset.code
            ),
        );
        return Ok(None);
    };
    let quote = match fiat::Rate::parse(&form.rate) {
        Ok(reviewed) if !form.rate.trim().is_empty() && reviewed != current.rate => Quote {
            rate: reviewed,
            source: format!("{} — the rate shown on the review; {} when confirmed", current.source, current.rate),
            ..current
        },
        _ => current,
    };
    let Some(amount) = fiat::amount_for(typed, asset, quote.rate) else {
        errors.add("amount", "This amount is too large to convert.");
        return Ok(None);
    };
    Ok(Some((amount, FiatPricing { quote, entered: vec![typed] })))
}

/// Inside the create transaction: the rate fiat-typed rows were converted at must still be
/// within the organization's tolerance of the current rate (and there must be one), and every
/// row's amount must be exactly its typed amount at that rate.
fn check_fiat_pricing(
    conn: &mut DbConnection,
    actor: &Actor,
    draft: &Draft,
    pricing: &FiatPricing,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    use crate::service::access::rates;
    let reporting = rates::reporting(conn, actor.org_id)?;
    let current = rates::rate_now(conn, actor.org_id, draft.asset, &reporting, at)?;
    let Some(current) = current.current() else { return Err(AppError::Conflict(RATE_MOVED.into())) };
    if pricing.entered.iter().any(|f| f.currency.code != reporting.currency.code)
        || current.rate.moved_percent(pricing.quote.rate) > reporting.tolerance
    {
        return Err(AppError::Conflict(RATE_MOVED.into()));
    }
    let derived = pricing
        .entered
        .iter()
        .map(|f| crate::domain::fiat::amount_for(*f, draft.asset, pricing.quote.rate))
        .collect::<Vec<_>>();
    if derived.len() != draft.rows.len() || draft.rows.iter().zip(&derived).any(|(r, d)| r.amount != *d) {
        return Err(AppError::Conflict(CHANGED_SINCE_REVIEW.into()));
    }
    Ok(())
}

/// Prices checked rows: the fee by the schedule in force, the balance they would draw on.
pub fn price(
    conn: &mut DbConnection,
    actor: &Actor,
    kind: PayoutKind,
    asset: &'static Asset,
    description: &str,
    rows: Vec<Row>,
) -> Result<Draft, AppError> {
    let draft = unpriced(kind, asset, description, rows)?;
    let available = ledger::balance_of(conn, actor.org_id, asset)?.available;
    let (rule, quote) = quote_rows(conn, actor.org_id, kind, asset, &draft.rows, Some(available))?;
    let value = super::values::preview(conn, actor.org_id, asset, quote.amount_total, quote.fee, actor.now())?;
    let (over_limits, over_limit) = super::limits::preview(conn, actor.org_id, quote.amount_total, actor.now())?;
    Ok(Draft { rule, quote, value, over_limits, over_limit, ..draft })
}

/// A draft for a creation that shows no quote (the API's create): the rows as checked, priced by
/// nothing yet. `create_in_tx` reads the fee rule, the balance, the rates and the limits in its
/// own transaction, so the API's create reads each of them once.
pub fn unpriced(
    kind: PayoutKind,
    asset: &'static Asset,
    description: &str,
    mut rows: Vec<Row>,
) -> Result<Draft, AppError> {
    check_duplicates(&mut rows);
    let operation = if kind == PayoutKind::Single { Operation::Single } else { Operation::MassRow };
    let zero = Amount::zero(asset);
    let rule = FeeRule { asset, operation, percent: rust_decimal::Decimal::ZERO, fixed: zero, min: zero, max: None };
    let amounts: Vec<Amount> = rows.iter().filter_map(|r| r.amount).collect();
    let quote = Quote::new(&rule, &amounts, None)
        .ok_or_else(|| FieldErrors::form("The total is too large to pay in one payout."))?;
    let value = super::values::Preview {
        currency: &crate::domain::fiat::CURRENCIES[0],
        rate: crate::service::access::rates::RateNow::None,
        amount: None,
        fee: None,
        at: NaiveDateTime::MIN,
    };
    Ok(Draft {
        kind,
        asset,
        description: description.to_owned(),
        rows,
        rule,
        quote,
        scheduled_for: None,
        value,
        fiat: None,
        over_limits: Vec::new(),
        over_limit: OverLimit::Refuse,
        acknowledged_lookalikes: Vec::new(),
    })
}

fn quote_rows(
    conn: &mut DbConnection,
    org_id: i64,
    kind: PayoutKind,
    asset: &'static Asset,
    rows: &[Row],
    available: Option<Amount>,
) -> Result<(FeeRule, Quote), AppError> {
    let operation = if kind == PayoutKind::Single { Operation::Single } else { Operation::MassRow };
    let rule = org_settings::fee_schedule(conn, org_id)?.rule(asset, operation);
    let amounts: Vec<Amount> = rows.iter().filter_map(|r| r.amount).collect();
    let quote = Quote::new(&rule, &amounts, available)
        .ok_or_else(|| FieldErrors::form("The total is too large to pay in one payout."))?;
    Ok((rule, quote))
}

impl Draft {
    /// What a review page shows and Confirm binds to: asset, kind, description, totals, fee, and
    /// every row with its own fee. Confirm with another digest creates nothing.
    pub fn digest(&self) -> String {
        let q = &self.quote;
        let mut text = format!(
            "v1|{}|{}|{}|{}|{}|{}|{}\n",
            self.kind.as_str(),
            self.asset.code,
            self.description,
            q.count,
            q.amount_total,
            q.fee,
            q.total_debit
        );
        if let Some(f) = &self.fiat {
            text.push_str(&format!(
                "fiat|{}|{}\n",
                f.quote.rate,
                f.entered.iter().map(|e| e.plain()).collect::<Vec<_>>().join(",")
            ));
        }
        for (n, row) in self.rows.iter().enumerate() {
            let amount = row.amount.map(|a| a.to_string()).unwrap_or_default();
            let fee = row.amount.map(|a| self.rule.fee_for(a).to_string()).unwrap_or_default();
            text.push_str(&format!("{}|{}|{amount}|{fee}|{}|{}\n", n + 1, row.address, row.comment, row.reference));
        }
        format!("sha256:{}", crate::crypto::sha256_hex(text.as_bytes()))
    }
}

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
        let (payout, _) = create_in_tx(conn, actor, &draft, idempotency_key, reviewed_digest, at)?;
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

/// Writes the payout inside the caller's write transaction. Everything that decides money is
/// read here, in that transaction: whether the asset is enabled, the fee rule, the approval
/// policy and the balance (admins change them while others create payouts); the payout's
/// totals are the sums of exactly the item rows written.
pub(crate) fn create_in_tx(
    conn: &mut DbConnection,
    actor: &Actor,
    draft: &Draft,
    idempotency_key: &str,
    reviewed_digest: Option<&str>,
    at: NaiveDateTime,
) -> Result<(PayoutRow, crate::service::views::payouts::PayoutJson), AppError> {
    actor.require(Role::can_create_payouts)?;
    if draft.rows.is_empty() {
        return Err(FieldErrors::form("A payout needs at least one recipient.").into());
    }
    if draft.rows.iter().any(|r| !r.is_valid()) {
        return Err(FieldErrors::form("Correct the rows with problems before confirming.").into());
    }
    if enabled_asset(conn, actor.org_id, draft.asset.code)?.is_none() {
        return Err(AppError::Conflict(format!(
            "{} is no longer enabled for your organization; an admin can enable it under Settings → Assets.",
            draft.asset.code
        )));
    }
    let lines: Vec<(u64, &str)> = draft.rows.iter().map(|r| (r.line, r.address.as_str())).collect();
    let payees = crate::service::payees::check_payable(conn, actor.org_id, draft.asset, &lines, at)?;
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
            status: item_status,
            idempotency_key: format!("payout-{}-item-{}", payout.id, n + 1),
            updated_at: at,
            payee_id: payees.get(&row.address).copied(),
        })
        .collect();
    db::payouts::insert_items(conn, &rows)?;
    let confirmed: Vec<super::values::ConfirmedRow> = items
        .iter()
        .enumerate()
        .map(|(n, (amount, fee))| super::values::ConfirmedRow {
            line: (n + 1) as i32,
            amount: *amount,
            fee: *fee,
            entered: draft.fiat.as_ref().and_then(|f| f.entered.get(n).copied()),
        })
        .collect();
    let priced = draft.fiat.as_ref().map(|f| &f.quote);
    super::values::record_confirmation(conn, actor.org_id, payout.id, draft.asset, &confirmed, priced, at)?;
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
    let told = super::announce::created(conn, &payout, at)?;
    if !lookalikes.is_empty() {
        super::announce::lookalikes_acknowledged(conn, &payout, actor, &lookalikes, at)?;
    }
    audit::record(
        conn,
        Entry::by(actor, "payout.created", "payout", payout.id).detail(format!(
            "{} {} to {} recipient(s)",
            draft.kind.label(),
            total_debit.money(),
            draft.rows.len()
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

/// A manager, or the creator while their role still creates payouts (a creator demoted to
/// viewer has lost the right).
pub(super) fn may_cancel(actor: &Actor, payout: &PayoutRow) -> bool {
    actor.role.can_approve() || (payout.created_by == actor.user_id && actor.role.can_create_payouts())
}

/// Cancels a payout that has not started paying: Pending, or In progress with every item
/// still queued. Its reservation is released. The creator or a manager may cancel.
pub fn cancel(conn: &mut DbConnection, actor: &Actor, payout_id: i64, reason: &str) -> Result<PayoutRow, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(FieldErrors::single("reason", "Say why the payout is cancelled.").into());
    }
    check_text(reason, MAX_DESCRIPTION_CHARS).map_err(|e| FieldErrors::single("reason", e))?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = db::payouts::lock_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
        if !may_cancel(actor, &payout) {
            return Err(AppError::NotAllowed(
                "Only a manager, or the accountant who created it, can cancel this payout.".into(),
            ));
        }
        let status = payout.status;
        if !status.can_become(PayoutStatus::Cancelled) {
            return Err(AppError::Conflict(format!(
                "This payout is {} and can no longer be cancelled.",
                status.label()
            )));
        }
        // Every transition locks the payout row before its items: one order, no deadlock.
        if !db::payouts::cas_status(conn, payout.id, status, PayoutStatus::Cancelled, at)? {
            return Err(AppError::Conflict("The payout changed meanwhile; reload the page.".into()));
        }
        let waiting = if status == PayoutStatus::Pending { ItemStatus::Waiting } else { ItemStatus::Queued };
        let moved = db::payouts::set_items_status(conn, payout.id, waiting, ItemStatus::Cancelled, at)?;
        if moved != payout.item_count as usize {
            // Rolled back with the status change above.
            return Err(AppError::Conflict(
                "Sending has already started, so this payout can no longer be cancelled.".into(),
            ));
        }
        let asset = payout_asset(&payout)?;
        let ctx = MoveContext {
            org_id: actor.org_id,
            payout_id: Some(payout.id),
            note: "Released: payout cancelled",
            actor_user_id: Some(actor.user_id),
            at,
        };
        ledger::move_funds(conn, Movement::Release, stored_amount(asset, &payout.total_debit)?, &ctx)?;
        let change = Change::Payout(status, PayoutStatus::Cancelled);
        event(conn, payout.id, change, Some(actor.user_id), &format!("Cancelled: {reason}"), at)?;
        audit::record(conn, Entry::by(actor, "payout.cancelled", "payout", payout.id).detail(reason.to_owned()), at)?;
        Ok(db::payouts::find(conn, payout.id)?)
    })
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
