//! A person's own second factors (Security page), the second step of signing in, and the
//! step-up page that gives a fresh proof before an action that asks for one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::db::security_keys::KeyRow;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::access::second_factor::{self, Factors, TotpSetup};
use crate::service::access::security_keys;
use crate::web::context::{AnySession, Authed, Enrolling, FlashKind, SESSION_COOKIE, SecondStep};
use crate::web::datetime::Stamp;
use crate::web::layout::Layout;
use crate::web::{html, page, see_other, see_other_with_flash};

#[derive(Template)]
#[template(path = "pages/account_security.html")]
pub struct SecurityPage {
    pub layout: Layout,
    pub factors: Factors,
    /// An authenticator being set up: its QR code (inline SVG) and secret.
    /// The QR code (SVG), the secret as text and the `otpauth://` link a phone opens its app with.
    pub setup: Option<(String, String, String)>,
    /// Recovery codes just made, shown this once.
    pub codes: Vec<String>,
    pub errors: FieldErrors,
    /// The organization requires a factor and this person has none yet.
    pub must_enrol: bool,
    /// Registered security keys and passkeys.
    pub keys: Vec<KeyRow>,
    pub max_keys: usize,
}

/// The QR code of an `otpauth://` URL as inline SVG, drawn on the server: the secret never goes
/// to a third-party QR service.
fn qr_svg(url: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(|e| AppError::Internal(format!("QR code: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(220, 220).quiet_zone(true).build();
    // Inline in HTML the XML declaration is not wanted.
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_owned(),
        None => svg,
    })
}

pub(super) async fn security_page(
    state: &AppState,
    authed: &Authed,
    status: StatusCode,
    setup: Option<TotpSetup>,
    codes: Vec<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let user_id = authed.user.user_id;
    let (factors, keys) = state
        .run(move |conn| Ok((second_factor::factors(conn, user_id)?, security_keys::list(conn, user_id)?)))
        .await?;
    let setup = match setup {
        Some(s) => Some((qr_svg(&s.url)?, s.secret, s.url)),
        None => None,
    };
    let must_enrol = authed.user.stage == crate::service::access::sessions::Stage::Enrol;
    let layout = Layout::new(&authed.ctx, "");
    html(
        status,
        &SecurityPage { layout, factors, setup, codes, errors, must_enrol, keys, max_keys: security_keys::MAX_KEYS },
    )
}

pub async fn security(state: web::Data<AppState>, Enrolling(authed): Enrolling) -> Result<HttpResponse, AppError> {
    security_page(&state, &authed, StatusCode::OK, None, Vec::new(), FieldErrors::new()).await
}

/// Starts (or shows again) setting up an authenticator.
pub async fn begin_totp(state: web::Data<AppState>, Enrolling(authed): Enrolling) -> Result<HttpResponse, AppError> {
    let (actor, key) = (authed.actor(), state.secret.clone());
    let setup = state.run(move |conn| second_factor::begin_totp(conn, &actor, &key)).await?;
    security_page(&state, &authed, StatusCode::OK, Some(setup), Vec::new(), FieldErrors::new()).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn confirm_totp(
    state: web::Data<AppState>,
    Enrolling(authed): Enrolling,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, key, session) = (authed.actor(), state.secret.clone(), authed.user.session_id);
    let code = form.into_inner().code;
    match state.run(move |conn| second_factor::confirm_totp(conn, &actor, session, &key, &code)).await {
        Ok(codes) => security_page(&state, &authed, StatusCode::OK, None, codes, FieldErrors::new()).await,
        Err(AppError::Validation(errors)) => {
            let (actor, key) = (authed.actor(), state.secret.clone());
            let setup = state.run(move |conn| second_factor::begin_totp(conn, &actor, &key)).await?;
            security_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, Some(setup), Vec::new(), errors).await
        }
        Err(e) => Err(e),
    }
}

pub async fn remove_totp(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, key) = (authed.actor(), state.secret.clone());
    let code = form.into_inner().code;
    match state.run(move |conn| second_factor::remove_totp(conn, &actor, &key, &code)).await {
        Ok(()) => Ok(see_other_with_flash(
            &authed.ctx,
            "/account/security",
            FlashKind::Success,
            "The authenticator is removed. Codes from it are no longer accepted.",
        )),
        Err(AppError::Validation(errors)) => {
            security_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, None, Vec::new(), errors).await
        }
        Err(e) => Err(e),
    }
}

pub async fn change_password(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<crate::service::access::users::PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, session, form) = (authed.actor(), authed.user.session_id, form.into_inner());
    match state.run(move |conn| crate::service::access::users::change_password(conn, &actor, session, &form)).await {
        Ok(()) => Ok(see_other_with_flash(
            &authed.ctx,
            "/account/security",
            FlashKind::Success,
            "Your password is changed; your other sessions were ended.",
        )),
        Err(AppError::Validation(errors)) => {
            security_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, None, Vec::new(), errors).await
        }
        Err(e) => Err(e),
    }
}

pub async fn new_recovery_codes(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let codes = state.run(move |conn| second_factor::replace_recovery_codes(conn, &actor)).await?;
    security_page(&state, &authed, StatusCode::OK, None, codes, FieldErrors::new()).await
}

#[derive(Template)]
#[template(path = "pages/second_factor.html")]
pub struct SecondFactorPage {
    pub layout: Layout,
    pub errors: FieldErrors,
    pub totp: bool,
    pub keys: bool,
    /// `?next=…` for the forms' actions: the page to open once the factor is given.
    pub next_query: String,
}

impl SecondFactorPage {
    pub(super) fn new(authed: &Authed, errors: FieldErrors, next: Option<&str>) -> Self {
        let (totp, keys) = (authed.user.totp, authed.user.keys);
        let next_query = crate::web::next::with_next("", next);
        SecondFactorPage { layout: Layout::new(&authed.ctx, ""), errors, totp, keys, next_query }
    }
}

pub async fn second_factor_page(SecondStep(authed): SecondStep, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let next = crate::web::next::from_query(req.query_string());
    page(&SecondFactorPage::new(&authed, FieldErrors::new(), next.as_deref()))
}

pub async fn second_factor(
    state: web::Data<AppState>,
    SecondStep(authed): SecondStep,
    req: HttpRequest,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let next = crate::web::next::from_query(req.query_string());
    let (user, key, ip) = (authed.user.clone(), state.secret.clone(), authed.ctx.ip.clone());
    let (code, at) = (form.into_inner().code, state.clock.now());
    match state.run(move |conn| second_factor::verify_sign_in(conn, &user, &key, &code, ip.as_deref(), at)).await {
        Ok(()) => Ok(see_other(next.as_deref().unwrap_or("/"))),
        Err(AppError::Validation(errors)) => {
            html(StatusCode::UNPROCESSABLE_ENTITY, &SecondFactorPage::new(&authed, errors, next.as_deref()))
        }
        Err(e) => Err(e),
    }
}

/// Signing out works at any stage of signing in.
pub async fn logout(state: web::Data<AppState>, AnySession(authed): AnySession) -> Result<HttpResponse, AppError> {
    let user = authed.user.clone();
    let ip = authed.ctx.ip.clone();
    let at = state.clock.now();
    state.run(move |conn| crate::service::access::sessions::logout(conn, &user, ip.as_deref(), at)).await?;
    let mut res = see_other_with_flash(&authed.ctx, "/login", FlashKind::Success, "You are signed out.");
    res.add_cookie(&authed.ctx.removal_cookie(SESSION_COOKIE)).ok();
    Ok(res)
}

#[derive(Template)]
#[template(path = "pages/step_up.html")]
pub struct StepUpPage {
    pub layout: Layout,
    pub next: String,
    pub totp: bool,
    pub keys: bool,
    pub fresh: bool,
    pub errors: FieldErrors,
}

impl StepUpPage {
    pub(super) fn new(authed: &Authed, next: String, errors: FieldErrors) -> Self {
        let fresh = !authed.user.step_up_due(authed.ctx.clock.now());
        let (totp, keys) = (authed.user.totp, authed.user.keys);
        StepUpPage { layout: Layout::new(&authed.ctx, ""), next, totp, keys, fresh, errors }
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    pub(super) next: String,
}

/// Where to go after a step-up: a path of this site, never another site.
pub(super) fn local_path(next: &str) -> String {
    crate::web::next::local_path(next).unwrap_or_else(|| "/".into())
}

pub async fn step_up_page(authed: Authed, query: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    let next = local_path(&query.into_inner().next);
    page(&StepUpPage::new(&authed, next, FieldErrors::new()))
}

/// The code itself (`otp`) was checked by the session layer before this runs.
pub async fn step_up(authed: Authed, query: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    let next = local_path(&query.into_inner().next);
    if authed.user.step_up_due(authed.ctx.clock.now()) {
        return Err(FieldErrors::single("otp", "Type the code your authenticator shows now.").into());
    }
    Ok(stepped_up(&authed, &next))
}

pub(super) fn stepped_up(authed: &Authed, next: &str) -> HttpResponse {
    see_other_with_flash(
        &authed.ctx,
        next,
        FlashKind::Success,
        "Confirmed. For the next five minutes you can approve, confirm and change settings without asking again.",
    )
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn step_up_returns_only_to_paths_of_this_site() {
        assert_eq!(local_path("/payouts/5"), "/payouts/5");
        for outside in ["https://evil.example", "//evil.example", "/\\evil.example", "", "payouts"] {
            assert_eq!(local_path(outside), "/", "{outside}");
        }
    }
}
