//! Mass payout drafts: started with an asset and a purpose, filled by CSV upload and by hand,
//! checked as a whole, confirmed into one payout.

use std::io::Read;

use crate::db::drafts::{DraftLineRow, DraftRow, NewDraftLine};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::payout::{DraftStatus, PayoutKind};
use crate::domain::registry::{self, Issue, Limits, Row, RowInput, check_text};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::org_settings;
use crate::service::payouts::{self, Created, Draft, MAX_DESCRIPTION_CHARS};

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct HeaderForm {
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub purpose: String,
    /// The currency the rows' amounts are typed in: empty for the payout currency, or the
    /// organization's reporting currency.
    #[serde(default)]
    pub amount_in: String,
}

/// One row's cells as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RowForm {
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub reference: String,
}

fn check_header(conn: &mut DbConnection, actor: &Actor, form: &HeaderForm) -> Result<&'static Asset, AppError> {
    let mut errors = FieldErrors::new();
    let enabled = org_settings::enabled_assets(conn, actor.org_id)?;
    let asset = asset::find(&form.asset).filter(|a| enabled.iter().any(|e| e.code == a.code));
    if asset.is_none() {
        errors.add("asset", "Choose one of your organization's payout currencies.");
    }
    if form.purpose.trim().is_empty() {
        errors.add("purpose", "Say what the payout is for, e.g. \"November salaries\".");
    } else if let Err(e) = check_text(&form.purpose, MAX_DESCRIPTION_CHARS) {
        errors.add("purpose", e);
    }
    let reporting = crate::service::valuation::rates::reporting(conn, actor.org_id)?.currency;
    let unit = form.amount_in.trim();
    if !unit.is_empty()
        && !unit.eq_ignore_ascii_case(reporting.code)
        && asset.is_none_or(|a| !unit.eq_ignore_ascii_case(a.code))
    {
        errors.add("amount_in", format!("Amounts are typed in the payout currency or in {}.", reporting.code));
    }
    errors.into_result(())?;
    Ok(asset.expect("checked"))
}

/// The reporting currency's code when the header asks for amounts in it.
fn header_fiat(conn: &mut DbConnection, actor: &Actor, form: &HeaderForm) -> Result<Option<&'static str>, AppError> {
    let reporting = crate::service::valuation::rates::reporting(conn, actor.org_id)?.currency;
    Ok(form.amount_in.trim().eq_ignore_ascii_case(reporting.code).then_some(reporting.code))
}

/// How a draft typed in fiat is converted now: the rate (the review's, when Confirm names one
/// within the tolerance check that follows in the create transaction), or why it cannot be.
fn fiat_rate(
    conn: &mut DbConnection,
    actor: &Actor,
    asset: &'static Asset,
    code: &str,
    reviewed: Option<crate::domain::fiat::Rate>,
) -> Result<Result<(&'static crate::domain::fiat::Currency, crate::service::valuation::rates::Quote), String>, AppError>
{
    use crate::service::valuation::rates;
    let reporting = rates::reporting(conn, actor.org_id)?;
    if reporting.currency.code != code {
        return Ok(Err(format!(
            "The amounts are typed in {code}, but the reporting currency is now {}: change the draft's amounts to {}, \
             or type them again.",
            reporting.currency.code, reporting.currency.code
        )));
    }
    let Some(current) = rates::rate_now(conn, actor.org_id, asset, &reporting, actor.now())?.current().cloned() else {
        return Ok(Err(format!(
            "There is no current {} rate in {code}: the amounts cannot be converted until an admin records one \
             (Settings → Rates).",
            asset.code
        )));
    };
    let quote = match reviewed {
        Some(r) if r != current.rate => rates::Quote {
            rate: r,
            source: format!("{} — the rate shown on the review; {} when confirmed", current.source, current.rate),
            ..current
        },
        _ => current,
    };
    Ok(Ok((reporting.currency, quote)))
}

pub fn start(conn: &mut DbConnection, actor: &Actor, form: &HeaderForm) -> Result<DraftRow, AppError> {
    actor.require(Role::can_create_payouts)?;
    let asset = check_header(conn, actor, form)?;
    let fiat = header_fiat(conn, actor, form)?;
    db::write_tx(conn, |conn| {
        let draft =
            db::drafts::insert(conn, actor.org_id, actor.user_id, asset.code, form.purpose.trim(), actor.now())?;
        db::drafts::set_fiat_currency(conn, draft.id, fiat)?;
        Ok(DraftRow { fiat_currency: fiat.map(str::to_owned), ..draft })
    })
}

pub fn open_drafts(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<DraftRow>, AppError> {
    actor.require(Role::can_create_payouts)?;
    Ok(db::drafts::open_in_org(conn, actor.org_id)?)
}

/// An open draft of the actor's organization.
pub(super) fn load_open(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
) -> Result<(DraftRow, &'static Asset), AppError> {
    actor.require(Role::can_create_payouts)?;
    let draft = db::drafts::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
    if draft.status != DraftStatus::Open {
        let message = match draft.payout_id {
            Some(p) => format!("This draft was confirmed as payout #{p}."),
            None => "This draft was discarded.".to_string(),
        };
        return Err(AppError::Conflict(message));
    }
    let asset = asset::find(&draft.asset).ok_or_else(|| AppError::Internal("draft asset unknown".into()))?;
    Ok((draft, asset))
}

/// A draft with every row checked, the duplicates flagged and the whole priced.
pub struct DraftView {
    pub draft: DraftRow,
    /// The stored rows, in order, beside their checked form (`checked.rows[i]`).
    pub lines: Vec<DraftLineRow>,
    pub checked: Draft,
    /// Valid rows to an address never paid, or to a payee's changed address, and the payee
    /// each valid row's address belongs to.
    pub flags: crate::service::payees::AddressFlags,
    /// For amounts typed in fiat that cannot be converted now: why (no current rate).
    pub rate_problem: Option<String>,
    /// The organization's reporting currency, in which the amounts may be typed.
    pub reporting: &'static str,
}

impl DraftView {
    pub fn invalid(&self) -> usize {
        self.checked.rows.iter().filter(|r| !r.is_valid()).count()
    }

    pub fn duplicate_warnings(&self) -> usize {
        self.checked.rows.iter().filter(|r| r.warnings.iter().any(|w| w.column.is_empty())).count()
    }
}

pub fn view(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<DraftView, AppError> {
    view_at(conn, actor, id, None, true)
}

/// [`view`], with fiat-typed amounts converted at `reviewed` (the rate a review showed) rather
/// than the current one; the create transaction then checks it against the current rate.
/// Without `flags` the address flags are left out (empty): Confirm decides them again inside the
/// create transaction, and they are not part of what the review's digest binds.
pub fn view_at(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    reviewed: Option<crate::domain::fiat::Rate>,
    flags: bool,
) -> Result<DraftView, AppError> {
    let (draft, asset) = load_open(conn, actor, id)?;
    let lines = db::drafts::lines(conn, id)?;
    let fiat = match draft.fiat_currency.as_deref() {
        Some(code) => Some(fiat_rate(conn, actor, asset, code, reviewed)?),
        None => None,
    };
    let mut entered: Vec<Option<crate::domain::fiat::Fiat>> = Vec::new();
    let rows: Vec<Row> = lines
        .iter()
        .enumerate()
        .map(|(n, l)| {
            let input = input_of(l);
            let line = n as u64 + 1;
            let mut row = match &fiat {
                // Converted at every view: the rate moves, so no verdict is kept for the amount.
                Some(Ok((currency, quote))) => {
                    let (row, typed) = Row::check_fiat(asset, line, &input, currency, quote.rate);
                    entered.push(typed);
                    row
                }
                Some(Err(problem)) => {
                    let mut row = Row::check(asset, line, &RowInput { amount: "1", ..input.clone() });
                    row.amount_text = input.amount.trim().to_owned();
                    row.amount = None;
                    row.errors.push(Issue::new("amount", problem.clone()));
                    row
                }
                None => l
                    .verdict
                    .as_deref()
                    .and_then(|v| Row::from_verdict(asset, line, &input, v))
                    .unwrap_or_else(|| Row::check(asset, line, &input)),
            };
            if let Some(problem) = &l.upload_error {
                row.errors.push(Issue::new("", format!("{problem} Check every cell, then save the row.")));
            }
            row
        })
        .collect();
    let mut checked = payouts::price(conn, actor, PayoutKind::Mass, asset, &draft.purpose, rows)?;
    let rate_problem = match fiat {
        Some(Ok((_, quote))) => {
            let all: Option<Vec<crate::domain::fiat::Fiat>> = entered.into_iter().collect();
            checked.fiat = all.map(|entered| payouts::FiatPricing { quote, entered });
            None
        }
        Some(Err(problem)) => Some(problem),
        None => None,
    };
    let valid: Vec<(u64, &str)> =
        checked.rows.iter().filter(|r| r.is_valid()).map(|r| (r.line, r.address.as_str())).collect();
    let flags = if flags {
        let flags = crate::service::payees::address_flags(conn, actor, asset, &valid)?;
        crate::service::payees::mark_foreign_references(conn, actor.org_id, asset, &mut checked.rows, &flags.names)?;
        flags
    } else {
        crate::service::payees::AddressFlags::default()
    };
    let reporting = crate::service::valuation::rates::reporting(conn, actor.org_id)?.currency.code;
    Ok(DraftView { draft, lines, checked, flags, rate_problem, reporting })
}

pub fn set_header(conn: &mut DbConnection, actor: &Actor, id: i64, form: &HeaderForm) -> Result<(), AppError> {
    load_open(conn, actor, id)?;
    let asset = check_header(conn, actor, form)?;
    db::write_tx(conn, |conn| {
        let (draft, _) = load_open(conn, actor, id)?;
        db::drafts::update_header(conn, id, asset.code, form.purpose.trim(), actor.now())?;
        let fiat = header_fiat(conn, actor, form)?;
        db::drafts::set_fiat_currency(conn, id, fiat)?;
        if draft.asset != asset.code {
            // Another asset, other rules: every row is checked again, once.
            let verdicts: Vec<(i64, String)> = db::drafts::lines(conn, id)?
                .iter()
                .map(|l| (l.id, Row::check(asset, 0, &input_of(l)).verdict(asset)))
                .collect();
            db::drafts::set_verdicts(conn, &verdicts)?;
        }
        Ok(())
    })
}

/// A row to store, checked once here: views read the stored verdict instead of checking every
/// row again.
pub(super) fn line_of(
    asset: &'static Asset,
    draft_id: i64,
    position: i64,
    source_line: Option<i64>,
    row: &RowForm,
) -> NewDraftLine {
    let input =
        RowInput { address: &row.address, amount: &row.amount, comment: &row.comment, reference: &row.reference };
    NewDraftLine {
        draft_id,
        position,
        source_line,
        address: row.address.trim().to_owned(),
        amount: row.amount.trim().to_owned(),
        comment: row.comment.trim().to_owned(),
        reference: row.reference.trim().to_owned(),
        upload_error: None,
        verdict: Some(Row::check(asset, 0, &input).verdict(asset)),
    }
}

fn input_of(l: &DraftLineRow) -> RowInput<'_> {
    RowInput { address: &l.address, amount: &l.amount, comment: &l.comment, reference: &l.reference }
}

pub(super) fn check_room(conn: &mut DbConnection, id: i64, adding: usize, limits: &Limits) -> Result<(), AppError> {
    let existing = db::drafts::count_lines(conn, id)? as usize;
    if existing + adding > limits.max_rows {
        return Err(FieldErrors::form(format!(
            "A mass payout has at most {} rows; this draft has {existing} and {adding} more would not fit.",
            limits.max_rows
        ))
        .into());
    }
    Ok(())
}

/// Adds a row; returns its id.
pub fn add_row(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    row: &RowForm,
    limits: &Limits,
) -> Result<i64, AppError> {
    db::write_tx(conn, |conn| {
        let (_, asset) = load_open(conn, actor, id)?;
        check_room(conn, id, 1, limits)?;
        let position = db::drafts::max_position(conn, id)? + 1;
        let line = db::drafts::insert_line(conn, &line_of(asset, id, position, None, row))?;
        db::drafts::touch(conn, id, actor.now())?;
        Ok(line.id)
    })
}

pub fn update_row(conn: &mut DbConnection, actor: &Actor, id: i64, row_id: i64, row: &RowForm) -> Result<(), AppError> {
    db::write_tx(conn, |conn| {
        let (_, asset) = load_open(conn, actor, id)?;
        if !db::drafts::update_line(conn, id, row_id, &line_of(asset, id, 0, None, row))? {
            return Err(AppError::NotFound);
        }
        db::drafts::touch(conn, id, actor.now())?;
        Ok(())
    })
}

pub fn delete_row(conn: &mut DbConnection, actor: &Actor, id: i64, row_id: i64) -> Result<(), AppError> {
    db::write_tx(conn, |conn| {
        load_open(conn, actor, id)?;
        if !db::drafts::delete_line(conn, id, row_id)? {
            return Err(AppError::NotFound);
        }
        db::drafts::touch(conn, id, actor.now())?;
        Ok(())
    })
}

/// What an upload added.
pub struct Uploaded {
    pub rows: usize,
    pub with_problems: usize,
    pub unknown_columns: Vec<String>,
}

/// Appends a CSV registry's rows. A whole-file problem is one field error (`file`) and changes
/// nothing; row problems land in the draft, marked for correction.
pub fn upload(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    file: impl Read,
    limits: &Limits,
) -> Result<Uploaded, AppError> {
    let (_, asset) = load_open(conn, actor, id)?;
    let registry = registry::parse(file, asset, limits).map_err(|e| FieldErrors::single("file", e.to_string()))?;
    let rows = registry.rows.len();
    let reporting = crate::service::valuation::rates::reporting(conn, actor.org_id)?.currency;
    if let Some(currencies) = &registry.fiat
        && currencies.iter().any(|c| c != reporting.code)
    {
        return Err(FieldErrors::single(
            "file",
            format!(
                "The fiat_currency column names {}: amounts can be typed in {}, your organization's reporting \
                 currency, or in {}.",
                currencies.join(", "),
                reporting.code,
                asset.code
            ),
        )
        .into());
    }
    db::write_tx(conn, |conn| -> Result<(), AppError> {
        let (draft, _) = load_open(conn, actor, id)?;
        if registry.fiat.is_some() && draft.fiat_currency.is_none() {
            if db::drafts::count_lines(conn, id)? > 0 {
                return Err(FieldErrors::single(
                    "file",
                    format!(
                        "This draft's amounts are in {}; upload a registry with an amount column, or start a new \
                         draft for amounts in {}.",
                        asset.code, reporting.code
                    ),
                )
                .into());
            }
            db::drafts::set_fiat_currency(conn, id, Some(reporting.code))?;
        }
        check_room(conn, id, rows, limits)?;
        let start = db::drafts::max_position(conn, id)? + 1;
        let lines: Vec<NewDraftLine> = registry
            .rows
            .iter()
            .enumerate()
            .map(|(n, r)| {
                let form = RowForm {
                    address: r.address.clone(),
                    amount: r.amount_text.clone(),
                    comment: r.comment.clone(),
                    reference: r.reference.clone(),
                };
                // A problem of the line itself is kept apart; the cells' own are in the verdict
                // (checked on their own: problems across rows are found at each view).
                let upload_error = r.errors.iter().find(|e| e.column.is_empty()).map(|e| e.message.clone());
                NewDraftLine { upload_error, ..line_of(asset, id, start + n as i64, Some(r.line as i64), &form) }
            })
            .collect();
        db::drafts::insert_lines(conn, &lines)?;
        db::drafts::touch(conn, id, actor.now())?;
        Ok(())
    })?;
    let with_problems = match db::drafts::find_in_org(conn, actor.org_id, id)?.and_then(|d| d.fiat_currency) {
        // Converted at today's rate, as the draft shows them.
        Some(_) => {
            let uploaded: std::collections::HashSet<u64> = registry.rows.iter().map(|r| r.line).collect();
            let v = view(conn, actor, id)?;
            v.lines
                .iter()
                .zip(&v.checked.rows)
                .filter(|(l, r)| l.source_line.is_some_and(|s| uploaded.contains(&(s as u64))) && !r.is_valid())
                .count()
        }
        None => registry.rows.iter().filter(|r| !r.is_valid()).count(),
    };
    Ok(Uploaded { rows, with_problems, unknown_columns: registry.unknown_columns })
}

pub fn discard(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<(), AppError> {
    load_open(conn, actor, id)?;
    if !db::drafts::close(conn, id, DraftStatus::Discarded, None, actor.now())? {
        return Err(AppError::Conflict("The draft changed meanwhile; reload the page.".into()));
    }
    Ok(())
}

/// The key that makes confirming one draft create one payout, however often it is sent.
fn idempotency_key(draft_id: i64) -> String {
    format!("mass-draft-{draft_id}")
}

/// Turns the draft into one Mass payout with one item per row, in one transaction that reads
/// the rows it writes. Refused while any row is invalid, until possible duplicates are
/// acknowledged, and when the draft no longer matches `reviewed_digest` (another person edited
/// it, or a fee changed, after this review was shown). A repeat returns the payout the first
/// confirm created.
/// What the person confirming a draft's review sent with Confirm.
#[derive(Debug, Clone, Default)]
pub struct Confirmation {
    /// Rows repeating another row's address and amount are meant.
    pub duplicates_acknowledged: bool,
    /// The lines whose lookalike address was checked with its recipient.
    pub lookalikes_acknowledged: Vec<u64>,
    /// The digest of what the review showed.
    pub digest: String,
    pub scheduled_for: Option<chrono::NaiveDateTime>,
    /// The rate fiat-typed amounts were converted at on the review.
    pub reviewed_rate: Option<crate::domain::fiat::Rate>,
}

pub fn confirm(conn: &mut DbConnection, actor: &Actor, id: i64, c: Confirmation) -> Result<Created, AppError> {
    let Confirmation { duplicates_acknowledged, lookalikes_acknowledged, digest, scheduled_for, reviewed_rate } = c;
    let reviewed_digest = digest.as_str();
    actor.require(Role::can_create_payouts)?;
    if let Some(existing) = db::payouts::find_by_idempotency_key(conn, actor.org_id, &idempotency_key(id))? {
        return Ok(Created { payout: existing, replayed: true });
    }
    let draft_of = |conn: &mut DbConnection| {
        let v = view_at(conn, actor, id, reviewed_rate, false)?;
        if v.checked.rows.is_empty() {
            return Err(FieldErrors::form("Add at least one row before confirming.").into());
        }
        let invalid = v.invalid();
        if invalid > 0 {
            return Err(FieldErrors::form(format!(
                "{} still {} problems; correct or delete them first.",
                crate::domain::words::count(invalid, "row", "rows"),
                crate::domain::words::plural(invalid, "has", "have")
            ))
            .into());
        }
        if v.duplicate_warnings() > 0 && !duplicates_acknowledged {
            return Err(FieldErrors::single(
                "acknowledge",
                "Some rows repeat another row's address and amount: confirm that these are not duplicates.",
            )
            .into());
        }
        Ok(Draft { scheduled_for, acknowledged_lookalikes: lookalikes_acknowledged, ..v.checked })
    };
    payouts::create_with(conn, actor, &idempotency_key(id), Some(reviewed_digest), draft_of, |conn, payout| {
        let at = actor.now();
        if !db::drafts::close(conn, id, DraftStatus::Confirmed, Some(payout.id), at)? {
            return Err(AppError::Conflict("The draft changed meanwhile; reload the page.".into()));
        }
        // A schedule's next run repeats this one, with whatever was changed in it.
        if let Some(schedule) = db::drafts::find_in_org(conn, actor.org_id, id)?.and_then(|d| d.schedule_id) {
            db::schedules::set_template(conn, schedule, payout.id, at)?;
        }
        Ok(())
    })
}
