//! What a payout would cost and what its review shows: the checked rows, the fee, the value in
//! the reporting currency, the spend limits as things stand, and the digest Confirm binds to.
//! `create_in_tx` prices again inside the transaction that writes the payout.

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::fee::{FeeRule, Operation, Quote};
use crate::domain::payout::PayoutKind;
use crate::domain::registry::{Row, RowInput, check_duplicates, check_text};
use crate::domain::spend_limit::OverLimit;
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::org_settings;
use crate::service::payouts::ledger::{self};

use super::create::MAX_DESCRIPTION_CHARS;

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
    pub value: crate::service::valuation::values::Preview,
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
    pub quote: crate::service::valuation::rates::Quote,
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
    /// A claim: the id of the payee who gives the address (from their page's "Pay by claim");
    /// `address` is then ignored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub claim_for: String,
}

/// The payee a claim form names, as the form and the review show them.
pub struct ClaimFor {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// Days they have to give an address, by the organization's limit now.
    pub days: i32,
}

/// The payee named by a single form's `claim_for`, when it names one of the organization's.
pub fn claim_for(
    conn: &mut DbConnection,
    actor: &Actor,
    form: &SinglePayoutForm,
) -> Result<Option<ClaimFor>, AppError> {
    let Ok(id) = form.claim_for.trim().parse::<i64>() else { return Ok(None) };
    let Some(p) = crate::db::payees::find_in_org(conn, actor.org_id, id)? else { return Ok(None) };
    let days = crate::db::orgs::find(conn, actor.org_id)?.claim_days;
    Ok(Some(ClaimFor { id: p.id, name: p.name, email: p.email, days }))
}

pub(super) fn enabled_asset(
    conn: &mut DbConnection,
    org_id: i64,
    code: &str,
) -> Result<Option<&'static Asset>, AppError> {
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
    let claim = match form.claim_for.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("address", "This claim names no payee of yours; start it again from the payee's page.");
                None
            }
        },
    };
    let row = match claim {
        Some(id) => {
            let input = RowInput { amount: amount_text, ..Default::default() };
            let mut row = Row::claim(asset, 1, id, &input);
            if let Some(problem) = crate::service::payees::claim_problems(conn, actor.org_id, asset, &[id])?.remove(0) {
                errors.add("address", problem);
            }
            row.errors.retain(|i| i.column != "address");
            row
        }
        None => Row::check(asset, 1, &RowInput { address: &form.address, amount: amount_text, ..Default::default() }),
    };
    for issue in &row.errors {
        errors.add(issue.column, issue.message.clone());
    }
    if let Err(e) = check_text(&form.description, MAX_DESCRIPTION_CHARS) {
        errors.add("description", e);
    }
    errors.into_result(())?;
    // Said on the form already; the create's transaction checks both again. A claim's address
    // comes later, from the payee, through the book's change control and screening.
    if row.claim_for.is_none() {
        crate::service::compliance::refuse_listed(conn, &[(1, row.address.as_str())], actor.now())?;
        crate::service::payees::check_payable(conn, actor.org_id, asset, &[(1, row.address.as_str())], actor.now())?;
    }
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
    use crate::service::valuation::rates::{self, Quote};
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
pub(super) fn check_fiat_pricing(
    conn: &mut DbConnection,
    actor: &Actor,
    draft: &Draft,
    pricing: &FiatPricing,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    use crate::service::valuation::rates;
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
    mut rows: Vec<Row>,
) -> Result<Draft, AppError> {
    crate::service::compliance::mark_rows(conn, &mut rows)?;
    let draft = unpriced(kind, asset, description, rows)?;
    let available = ledger::balance_of(conn, actor.org_id, asset)?.available;
    let (rule, quote) = quote_rows(conn, actor.org_id, kind, asset, &draft.rows, Some(available))?;
    let rows: Vec<(Amount, Amount)> =
        draft.rows.iter().filter_map(|r| r.amount).map(|a| (a, rule.fee_for(a))).collect();
    let value = crate::service::valuation::values::preview(conn, actor.org_id, asset, &rows, actor.now())?;
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
    let value = crate::service::valuation::values::Preview {
        currency: &crate::domain::fiat::CURRENCIES[0],
        rate: crate::service::valuation::rates::RateNow::None,
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

pub(super) fn quote_rows(
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
            let to = row.claim_for.map_or_else(|| row.address.clone(), |p| format!("claim:{p}"));
            text.push_str(&format!("{}|{to}|{amount}|{fee}|{}|{}\n", n + 1, row.comment, row.reference));
        }
        format!("sha256:{}", crate::crypto::sha256_hex(text.as_bytes()))
    }
}
