//! Payouts → Export for accounting (a month's journal in Xero's, QuickBooks Online's or a
//! generic CSV format) and Settings → Accounting (the accounts each line is booked to).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::valuation::journal::{self, Format, Journal, Mapping};
use crate::web::context::{Authed, FlashKind};
use crate::web::layout::Layout;
use crate::web::{html, see_other_with_flash};

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    pub month: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub per_row: String,
}

#[derive(Template)]
#[template(path = "pages/accounting_export.html")]
pub struct ExportPage {
    pub layout: Layout,
    pub query: ExportQuery,
    pub journal: Option<Journal>,
    pub errors: FieldErrors,
    /// No account was set: the page warns before the download.
    pub accounts_set: bool,
}

/// The month before the current one, in `YYYY-MM`: opened when nothing was paid yet.
fn last_month(now: chrono::NaiveDateTime) -> String {
    use chrono::Datelike;
    let (y, m) = if now.month() == 1 { (now.year() - 1, 12) } else { (now.year(), now.month() - 1) };
    format!("{y:04}-{m:02}")
}

pub async fn export(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let mut query = query.into_inner();
    let org_id = authed.user.org_id;
    let (latest, accounts_set) = state
        .run(move |conn| Ok((journal::latest_paid_month(conn, org_id)?, journal::accounts_set(conn, org_id)?)))
        .await?;
    if query.month.trim().is_empty() {
        query.month = latest.unwrap_or_else(|| last_month(state.clock.now()));
    }
    let (actor, month, per_row) = (authed.actor(), query.month.clone(), !query.per_row.is_empty());
    let (journal, errors, status) = match state.run(move |conn| journal::journal(conn, &actor, &month, per_row)).await {
        Ok(j) => (Some(j), FieldErrors::new(), StatusCode::OK),
        Err(AppError::Validation(e)) => (None, e, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => return Err(e),
    };
    let layout = Layout::new(&authed.ctx, "/payouts");
    html(status, &ExportPage { layout, query, journal, errors, accounts_set })
}

pub async fn download(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let Some(format) = Format::parse(&query.format) else {
        return Err(FieldErrors::single("format", "Choose Xero, QuickBooks Online or generic CSV.").into());
    };
    let (actor, month, per_row) = (authed.actor(), query.month.clone(), !query.per_row.is_empty());
    let (journal, map) = state
        .run(move |conn| {
            let j = journal::journal(conn, &actor, &month, per_row)?;
            Ok((j, journal::mapping(conn, actor.org_id)?))
        })
        .await?;
    let name = format!("journal-{}-{}.csv", journal.month, format.name());
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .body(format.file(&journal, &map)))
}

#[derive(Template)]
#[template(path = "pages/settings_accounting.html")]
pub struct MappingPage {
    pub layout: Layout,
    pub mapping: Mapping,
    pub typed: HashMap<String, String>,
    pub errors: FieldErrors,
}

impl MappingPage {
    /// What a field shows: what was typed (after an error), else what is saved.
    pub fn value(&self, key: &str, saved: &str) -> String {
        self.typed.get(key).cloned().unwrap_or_else(|| saved.to_owned())
    }

    pub fn asset_value(&self, code: &str, saved: &str) -> String {
        self.value(&format!("asset:{code}"), saved)
    }

    pub fn asset_error(&self, code: &str) -> Option<String> {
        self.errors.get(&format!("asset:{code}")).map(str::to_owned)
    }
}

async fn mapping_page(
    state: &AppState,
    authed: &Authed,
    status: StatusCode,
    typed: HashMap<String, String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    actor.require(crate::domain::account::Role::can_administer)?;
    let mapping = state.run(move |conn| journal::mapping(conn, actor.org_id)).await?;
    html(status, &MappingPage { layout: Layout::new(&authed.ctx, "/settings"), mapping, typed, errors })
}

pub async fn settings(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    mapping_page(&state, &authed, StatusCode::OK, HashMap::new(), FieldErrors::new()).await
}

pub async fn save_settings(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let (actor, typed) = (authed.actor(), form.into_inner());
    let fields = typed.clone();
    match state.run(move |conn| journal::save_mapping(conn, &actor, &fields)).await {
        Ok(()) => Ok(see_other_with_flash(&authed.ctx, "/settings/accounting", FlashKind::Success, "Accounts saved.")),
        Err(AppError::Validation(errors)) => {
            mapping_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await
        }
        Err(e) => Err(e),
    }
}
