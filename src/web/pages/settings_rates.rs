//! Settings → Rates: the reporting currency, the rate each enabled asset is valued at now (or
//! that there is none), rates typed or imported by admins, and pins.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::fiat::{CURRENCIES, Currency};
use crate::error::AppError;
use crate::service::valuation::rates::{self, Overview, RateForm, RateNow, ReportingForm};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp;
use crate::web::layout::Layout;
use crate::web::{html, see_other_with_flash};

#[derive(Template)]
#[template(path = "pages/settings_rates.html")]
pub struct RatesPage {
    pub layout: Layout,
    pub overview: Overview,
    pub currencies: &'static [Currency],
    pub provider: Option<&'static str>,
    pub form: RateForm,
    pub errors: FieldErrors,
    pub now: chrono::NaiveDateTime,
}

impl RatesPage {
    /// "3 min ago" for a rate observed at `at`.
    pub fn age(&self, at: &chrono::NaiveDateTime) -> String {
        crate::web::datetime::age(at, &self.now)
    }

    /// "2026-12-07 24:00 Europe/Berlin (23:00 UTC)": when a recorded rate stops applying.
    pub fn until(&self, at: &chrono::NaiveDateTime) -> String {
        self.overview.zone.describe(*at)
    }
}

async fn page(
    state: &AppState,
    authed: &Authed,
    status: StatusCode,
    form: RateForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let overview = state.run(move |conn| rates::overview(conn, &actor)).await?;
    html(
        status,
        &RatesPage {
            layout: Layout::new(&authed.ctx, "/settings"),
            overview,
            currencies: &CURRENCIES,
            provider: state.config.rates.as_ref().map(|f| f.provider.name()),
            form,
            errors,
            now: state.clock.now(),
        },
    )
}

pub async fn show(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    page(&state, &authed, StatusCode::OK, RateForm::default(), FieldErrors::new()).await
}

fn done(authed: &Authed, message: &str) -> HttpResponse {
    see_other_with_flash(&authed.ctx, "/settings/rates", FlashKind::Success, message)
}

pub async fn save_reporting(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<ReportingForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, form) = (authed.actor(), form.into_inner());
    match state.run(move |conn| rates::set_reporting(conn, &actor, &form)).await {
        Ok(r) => Ok(done(&authed, &format!("Values are now shown in {}.", r.currency.code))),
        Err(AppError::Validation(errors)) => {
            page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, RateForm::default(), errors).await
        }
        Err(e) => Err(e),
    }
}

/// Records or pins the typed rate, re-showing the form with its errors by field.
async fn with_rate(
    state: &AppState,
    authed: &Authed,
    form: RateForm,
    act: fn(&mut crate::db::DbConnection, &crate::service::access::Actor, &RateForm) -> Result<(), AppError>,
    said: &str,
) -> Result<HttpResponse, AppError> {
    let (actor, submitted) = (authed.actor(), form.clone());
    match state.run(move |conn| act(conn, &actor, &submitted)).await {
        Ok(()) => Ok(done(authed, &format!("{} {said}", form.asset.trim().to_uppercase()))),
        Err(AppError::Validation(errors)) => page(state, authed, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await,
        Err(e) => Err(e),
    }
}

pub async fn record(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<RateForm>,
) -> Result<HttpResponse, AppError> {
    with_rate(&state, &authed, form.into_inner(), rates::record, "rate recorded.").await
}

pub async fn pin(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<RateForm>,
) -> Result<HttpResponse, AppError> {
    with_rate(&state, &authed, form.into_inner(), rates::pin, "is pinned until you unpin it.").await
}

pub async fn unpin(
    state: web::Data<AppState>,
    authed: Authed,
    asset: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (actor, asset) = (authed.actor(), asset.into_inner());
    let shown = asset.clone();
    state.run(move |conn| rates::unpin(conn, &actor, &asset)).await?;
    Ok(done(&authed, &format!("{shown} is no longer pinned.")))
}

pub async fn import(
    state: web::Data<AppState>,
    authed: Authed,
    payload: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    let fail = |m: &str| see_other_with_flash(&authed.ctx, "/settings/rates", FlashKind::Error, m);
    let bytes = match super::drafts::read_file(payload, 256 * 1024).await {
        Ok(Some(b)) if !b.is_empty() => b,
        Ok(_) => return Ok(fail("Choose a CSV file of rates.")),
        Err(AppError::Validation(e)) => return Ok(fail(e.get("file").unwrap_or("The upload could not be read."))),
        Err(e) => return Err(e),
    };
    let actor = authed.actor();
    match state.run(move |conn| rates::import(conn, &actor, &bytes)).await {
        Ok(n) => Ok(done(&authed, &format!("{n} rates imported."))),
        Err(AppError::Validation(e)) => Ok(fail(e.get("file").unwrap_or("The file could not be imported."))),
        Err(e) => Err(e),
    }
}

/// For the template: the state of a rate in words.
pub fn describe(now: &RateNow) -> &'static str {
    match now {
        RateNow::Current(q) if q.pinned => "pinned",
        RateNow::Current(_) => "current",
        RateNow::Stale(_) => "stale",
        RateNow::None => "none",
    }
}
