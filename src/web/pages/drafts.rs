//! The mass payout editor: a draft stored in the database, filled by upload and by hand, edited
//! in place with htmx (each change re-renders its row and the totals bar), reviewed, confirmed.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::TryStreamExt;
use serde::Deserialize;

use crate::AppState;
use crate::db::drafts::DraftRow;
use crate::domain::FieldErrors;
use crate::domain::asset::Asset;
use crate::domain::registry::{Limits, Row};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::org_settings;
use crate::service::payouts::drafts::{self, DraftView, HeaderForm, RowForm};
use crate::service::payouts::repeat;
use crate::web::context::{Authed, FlashKind, RequestContext};
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::{html, see_other, see_other_with_flash};

pub const PAGE_ROWS: usize = 100;

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request") && !req.headers().contains_key("HX-Boosted")
}

#[derive(Template)]
#[template(path = "pages/mass_new.html")]
pub struct NewTemplate {
    pub layout: Layout,
    pub form: HeaderForm,
    pub errors: FieldErrors,
    pub assets: Vec<&'static Asset>,
    pub drafts: Vec<DraftRow>,
    pub reporting: &'static str,
}

async fn new_page(
    state: &AppState,
    authed: &Authed,
    form: HeaderForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (assets, drafts, reporting) = state
        .run(move |conn| {
            Ok((
                org_settings::enabled_assets(conn, actor.org_id)?,
                drafts::open_drafts(conn, &actor)?,
                crate::service::valuation::rates::reporting(conn, actor.org_id)?.currency.code,
            ))
        })
        .await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let layout = Layout::new(&authed.ctx, "/payouts");
    html(status, &NewTemplate { layout, form, errors, assets, drafts, reporting })
}

pub async fn new(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    new_page(&state, &authed, HeaderForm::default(), FieldErrors::new()).await
}

pub async fn start(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<HeaderForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let actor = authed.actor();
    let f = form.clone();
    match state.run(move |conn| drafts::start(conn, &actor, &f)).await {
        Ok(draft) => Ok(see_other(&format!("/payouts/drafts/{}", draft.id))),
        Err(AppError::Validation(errors)) => new_page(&state, &authed, form, errors).await,
        Err(e) => Err(e),
    }
}

/// One table row as the editor shows it.
pub struct LineView {
    pub id: i64,
    pub number: usize,
    pub source_line: Option<i64>,
    pub address: String,
    pub amount: String,
    pub comment: String,
    pub reference: String,
    pub row: Row,
    /// The payee whose address this row pays.
    pub payee: Option<String>,
    /// First payment to this address, or a payee's changed address (old → new).
    pub flag: Option<crate::service::payees::AddressFlag>,
}

impl LineView {
    pub fn error(&self, column: &str) -> Option<&str> {
        self.row.errors.iter().find(|e| e.column == column).map(|e| e.message.as_str())
    }

    pub fn warning(&self, column: &str) -> Option<&str> {
        self.row.warnings.iter().find(|e| e.column == column).map(|e| e.message.as_str())
    }

    pub fn has_problems(&self) -> bool {
        !self.row.errors.is_empty() || !self.row.warnings.is_empty()
    }
}

pub(super) fn line_views(v: &DraftView) -> Vec<LineView> {
    v.lines
        .iter()
        .zip(&v.checked.rows)
        .enumerate()
        .map(|(n, (l, row))| LineView {
            id: l.id,
            number: n + 1,
            source_line: l.source_line,
            address: l.address.clone(),
            amount: l.amount.clone(),
            comment: l.comment.clone(),
            reference: l.reference.clone(),
            payee: row.is_valid().then(|| v.flags.names.get(&row.address).cloned()).flatten(),
            flag: v.flags.of_line(row.line).cloned(),
            row: row.clone(),
        })
        .collect()
}

/// The totals bar.
#[derive(Template)]
#[template(path = "partials/draft_totals.html")]
pub struct Totals {
    pub draft_id: i64,
    pub rows: usize,
    pub valid: usize,
    pub invalid: usize,
    pub warnings: usize,
    /// Rows to an address never paid, and rows to a payee's changed address.
    pub first_payments: usize,
    pub changed_addresses: usize,
    /// Rows whose address looks like a known one.
    pub lookalikes: usize,
    pub code: &'static str,
    pub total: String,
    pub fee: String,
    pub debit: String,
    pub available: String,
    pub after: String,
    pub sufficient: bool,
    pub oob: bool,
}

/// The empty-table message under the editor: shown while the draft has no row.
#[derive(Template)]
#[template(path = "partials/draft_no_rows.html")]
pub struct NoRows {
    pub rows: usize,
    pub oob: bool,
}

pub(super) fn totals(v: &DraftView, oob: bool) -> Totals {
    let q = &v.checked.quote;
    let invalid = v.invalid();
    Totals {
        draft_id: v.draft.id,
        rows: v.checked.rows.len(),
        valid: v.checked.rows.len() - invalid,
        invalid,
        warnings: v.duplicate_warnings(),
        first_payments: v.flags.first,
        changed_addresses: v.flags.changed,
        lookalikes: v.flags.lookalikes,
        code: v.checked.asset.code,
        total: q.amount_total.money(),
        fee: q.fee.money(),
        debit: q.total_debit.money(),
        available: q.available.map(|a| a.money()).unwrap_or_default(),
        after: q.balance_after().map(|a| a.money()).unwrap_or_default(),
        sufficient: q.sufficient != Some(false),
        oob,
    }
}

#[derive(Template)]
#[template(path = "partials/draft_row.html")]
pub struct RowTemplate {
    pub draft_id: i64,
    pub line: LineView,
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "pages/mass_editor.html")]
pub struct EditorTemplate {
    pub layout: Layout,
    pub v: DraftView,
    /// The page's rows and the totals bar, rendered by their own templates (the same ones the
    /// htmx fragments use).
    pub rows_html: String,
    pub totals_html: String,
    /// "No rows yet", kept in step by the row fragments (out of band).
    pub no_rows_html: String,
    pub assets: Vec<&'static Asset>,
    pub page: usize,
    pub pages: usize,
    pub problems_only: bool,
    pub errors: FieldErrors,
    /// Against the run it repeats: (line, what differs) and the earlier rows left out.
    pub changes: Option<Changes>,
}

/// What a repeated draft changes against the payout it repeats, by line, for people.
pub struct Changes {
    pub payout_id: i64,
    pub lines: Vec<(usize, String)>,
    pub removed: Vec<(String, String)>,
}

fn changes_of(v: &DraftView, c: repeat::Comparison) -> Changes {
    let mut lines = Vec::new();
    for (n, l) in v.lines.iter().enumerate() {
        for d in c.rows.get(&l.id).into_iter().flatten() {
            let text = match d {
                repeat::Difference::New => "New since the last run".to_string(),
                repeat::Difference::Amount { before } => format!("Amount changed: {before} → {}", l.amount),
                repeat::Difference::Address { before } => format!("Address changed: {before} → {}", l.address),
            };
            lines.push((n + 1, text));
        }
    }
    Changes { payout_id: c.payout_id, lines, removed: c.removed }
}

impl EditorTemplate {
    pub fn page_link(&self, page: &usize) -> String {
        let problems = if self.problems_only { "&problems=1" } else { "" };
        format!("/payouts/drafts/{}?page={page}{problems}", self.v.draft.id)
    }
}

#[derive(Deserialize)]
pub struct EditorQuery {
    page: Option<usize>,
    problems: Option<String>,
}

async fn editor(
    state: &AppState,
    authed: &Authed,
    id: i64,
    page_number: usize,
    problems_only: bool,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (v, assets, comparison) = state
        .run(move |conn| {
            let v = drafts::view(conn, &actor, id)?;
            let comparison = repeat::compare(conn, &v.draft, &v.lines)?;
            Ok((v, org_settings::enabled_assets(conn, actor.org_id)?, comparison))
        })
        .await?;
    let changes = comparison.map(|c| changes_of(&v, c));
    let all: Vec<LineView> = line_views(&v).into_iter().filter(|l| !problems_only || l.has_problems()).collect();
    let pages = all.len().div_ceil(PAGE_ROWS).max(1);
    let page = page_number.clamp(1, pages);
    let mut rows_html = String::new();
    for line in all.into_iter().skip((page - 1) * PAGE_ROWS).take(PAGE_ROWS) {
        rows_html.push_str(&RowTemplate { draft_id: id, line, csrf_token: authed.ctx.csrf_token.clone() }.render()?);
    }
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let totals_html = totals(&v, false).render()?;
    let no_rows_html = NoRows { rows: v.checked.rows.len(), oob: false }.render()?;
    html(
        status,
        &EditorTemplate {
            layout: Layout::new(&authed.ctx, "/payouts"),
            v,
            rows_html,
            totals_html,
            no_rows_html,
            assets,
            page,
            pages,
            problems_only,
            errors,
            changes,
        },
    )
}

pub async fn show(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    q: web::Query<EditorQuery>,
) -> Result<HttpResponse, AppError> {
    let problems = q.problems.as_deref().is_some_and(|p| !p.is_empty() && p != "0");
    closed_draft_redirect(
        editor(&state, &authed, id.into_inner(), q.page.unwrap_or(1), problems, FieldErrors::new()).await,
        &authed.ctx,
    )
}

/// A confirmed or discarded draft sends the browser where it went, saying why.
pub(crate) fn closed_draft_redirect(
    result: Result<HttpResponse, AppError>,
    ctx: &RequestContext,
) -> Result<HttpResponse, AppError> {
    match result {
        Err(AppError::Conflict(message)) => {
            let location = message
                .split("payout #")
                .nth(1)
                .map(|rest| format!("/payouts/{}", rest.trim_end_matches('.')))
                .unwrap_or_else(|| "/payouts".into());
            Ok(see_other_with_flash(ctx, &location, FlashKind::Error, &message))
        }
        other => other,
    }
}

pub async fn set_header(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<HeaderForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = authed.actor();
    let form = form.into_inner();
    match state.run(move |conn| drafts::set_header(conn, &actor, id, &form)).await {
        Ok(()) => Ok(see_other_with_flash(
            &authed.ctx,
            &format!("/payouts/drafts/{id}"),
            FlashKind::Success,
            "Saved; every row was checked again.",
        )),
        Err(AppError::Validation(errors)) => editor(&state, &authed, id, 1, false, errors).await,
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}

/// After a change: for htmx, the changed row (if any) and the totals bar out of band; for a
/// plain form post, back to the editor.
async fn after_change(
    state: &AppState,
    req: &HttpRequest,
    authed: &Authed,
    id: i64,
    row_id: Option<i64>,
) -> Result<HttpResponse, AppError> {
    if !is_htmx(req) {
        return Ok(see_other(&format!("/payouts/drafts/{id}")));
    }
    let actor: Actor = authed.actor();
    let v = state.run(move |conn| drafts::view(conn, &actor, id)).await?;
    let mut body = String::new();
    if let Some(line) = row_id.and_then(|rid| line_views(&v).into_iter().find(|l| l.id == rid)) {
        body.push_str(RowTemplate { draft_id: id, line, csrf_token: authed.ctx.csrf_token.clone() }.render()?.trim());
    }
    body.push_str(&totals(&v, true).render()?);
    body.push_str(&NoRows { rows: v.checked.rows.len(), oob: true }.render()?);
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").insert_header(("Vary", "HX-Request")).body(body))
}

pub async fn add_row(
    state: web::Data<AppState>,
    req: HttpRequest,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<RowForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = authed.actor();
    let form = form.into_inner();
    let limits = state.config.registry_limits;
    match state.run(move |conn| drafts::add_row(conn, &actor, id, &form, &limits)).await {
        Ok(row_id) => after_change(&state, &req, &authed, id, Some(row_id)).await,
        Err(AppError::Validation(errors)) => editor(&state, &authed, id, 1, false, errors).await,
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}

pub async fn update_row(
    state: web::Data<AppState>,
    req: HttpRequest,
    authed: Authed,
    path: web::Path<(i64, i64)>,
    form: web::Form<RowForm>,
) -> Result<HttpResponse, AppError> {
    let (id, row_id) = path.into_inner();
    let actor = authed.actor();
    let form = form.into_inner();
    match state.run(move |conn| drafts::update_row(conn, &actor, id, row_id, &form)).await {
        Ok(()) => after_change(&state, &req, &authed, id, Some(row_id)).await,
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}

pub async fn delete_row(
    state: web::Data<AppState>,
    req: HttpRequest,
    authed: Authed,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, row_id) = path.into_inner();
    let actor = authed.actor();
    match state.run(move |conn| drafts::delete_row(conn, &actor, id, row_id)).await {
        Ok(()) => after_change(&state, &req, &authed, id, None).await,
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}

/// Reads the multipart `file` field, stopping one byte past the size limit.
pub(crate) async fn read_file(mut payload: Multipart, max_bytes: u64) -> Result<Option<Vec<u8>>, AppError> {
    let bad =
        |e: actix_multipart::MultipartError| FieldErrors::single("file", format!("The upload could not be read: {e}"));
    while let Some(mut field) = payload.try_next().await.map_err(bad)? {
        if field.name() != Some("file") {
            while field.try_next().await.map_err(bad)?.is_some() {}
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(bad)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                // The parser reports the size limit in its own words.
                break;
            }
        }
        return Ok(Some(bytes));
    }
    Ok(None)
}

pub async fn upload(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let location = format!("/payouts/drafts/{id}");
    let limits: Limits = state.config.registry_limits;
    let bytes = match read_file(payload, limits.max_bytes).await {
        Ok(Some(b)) if !b.is_empty() => b,
        Ok(_) => {
            return Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, "Choose a CSV file to upload."));
        }
        Err(AppError::Validation(e)) => {
            let message = e.get("file").unwrap_or("The upload could not be read.").to_owned();
            return Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &message));
        }
        Err(e) => return Err(e),
    };
    let actor = authed.actor();
    match state.run(move |conn| drafts::upload(conn, &actor, id, bytes.as_slice(), &limits)).await {
        Ok(up) => {
            let mut message = format!("Added {} from the file", crate::domain::words::count(up.rows, "row", "rows"));
            if up.with_problems > 0 {
                message.push_str(&format!("; {} need correcting (shown in red)", up.with_problems));
            }
            if !up.unknown_columns.is_empty() {
                let shown: Vec<String> =
                    up.unknown_columns.iter().take(5).map(|c| crate::domain::asset::shorten(c, 30, 0)).collect();
                message.push_str(&format!("; ignored the columns {}", shown.join(", ")));
                if up.unknown_columns.len() > shown.len() {
                    message.push_str(&format!(" and {} more", up.unknown_columns.len() - shown.len()));
                }
            }
            message.push('.');
            let target = if up.with_problems > 0 { format!("{location}?problems=1") } else { location };
            Ok(see_other_with_flash(&authed.ctx, &target, FlashKind::Success, &message))
        }
        Err(AppError::Validation(e)) => {
            let message = e.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ");
            Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &format!("Nothing was added. {message}")))
        }
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}

#[derive(Template)]
#[template(path = "pages/draft_discard.html")]
pub struct DiscardPage {
    pub layout: Layout,
    pub draft: DraftRow,
    pub rows: usize,
}

/// Discarding asks first, on a page of its own: what is lost (the draft's rows) and a way back.
pub async fn discard_page(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = authed.actor();
    match state.run(move |conn| drafts::view(conn, &actor, id)).await {
        Ok(v) => html(
            StatusCode::OK,
            &DiscardPage { layout: Layout::new(&authed.ctx, "/payouts"), rows: v.lines.len(), draft: v.draft },
        ),
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}

#[derive(Deserialize)]
pub struct DiscardForm {
    #[serde(default)]
    confirm: String,
}

/// Discards the draft once the confirmation page said so; a bare POST is sent to that page.
pub async fn discard(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<DiscardForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    if form.confirm != "yes" {
        return Ok(see_other(&format!("/payouts/drafts/{id}/discard")));
    }
    let actor = authed.actor();
    match state.run(move |conn| drafts::discard(conn, &actor, id)).await {
        Ok(()) => Ok(see_other_with_flash(&authed.ctx, "/payouts/new/mass", FlashKind::Success, "Draft discarded.")),
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}
