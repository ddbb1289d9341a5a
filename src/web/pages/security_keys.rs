//! Security keys and passkeys on the Security page, for the second step of signing in and for a
//! step-up. Each ceremony's first request answers JSON (the challenge for static/webauthn.js);
//! the second is a normal form post carrying the browser's answer in its `credential` field.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::account::{NextQuery, SecondFactorPage, StepUpPage, local_path, security_page, stepped_up};
use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::access::security_keys;
use crate::web::context::{Authed, Enrolling, FlashKind, SecondStep};
use crate::web::{html, see_other, see_other_with_flash};

/// The challenge as JSON, or the reason there is none as `{"message": …}` for the page's script.
fn challenge<T: Serialize>(result: Result<T, AppError>) -> HttpResponse {
    match result {
        Ok(options) => HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(options),
        Err(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            if status.is_server_error() {
                tracing::error!(error = %e, "security key challenge failed");
            }
            HttpResponse::build(status).json(serde_json::json!({ "message": e.public_message() }))
        }
    }
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
}

pub async fn begin_registration(state: web::Data<AppState>, Enrolling(authed): Enrolling) -> HttpResponse {
    let (actor, session, secret, rp) =
        (authed.actor(), authed.user.session_id, state.secret.clone(), state.webauthn.clone());
    challenge(state.run(move |conn| security_keys::begin_registration(conn, &rp, &actor, session, &secret)).await)
}

pub async fn finish_registration(
    state: web::Data<AppState>,
    Enrolling(authed): Enrolling,
    form: web::Form<AnswerForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, session, rp) = (authed.actor(), authed.user.session_id, state.webauthn.clone());
    let AnswerForm { credential, name } = form.into_inner();
    let done =
        state.run(move |conn| security_keys::finish_registration(conn, &rp, &actor, session, &name, &credential)).await;
    match done {
        Ok(key) if !key.recovery_codes.is_empty() => {
            security_page(&state, &authed, StatusCode::OK, None, key.recovery_codes, FieldErrors::new()).await
        }
        Ok(key) => Ok(see_other_with_flash(
            &authed.ctx,
            "/account/security",
            FlashKind::Success,
            &format!("The security key “{}” is added. Sign-in and approvals can ask you to touch it.", key.name),
        )),
        Err(AppError::Validation(errors)) => {
            security_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, None, Vec::new(), errors).await
        }
        Err(e) => Err(e),
    }
}

pub async fn remove(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (actor, id) = (authed.actor(), id.into_inner());
    let name = state.run(move |conn| security_keys::remove(conn, &actor, id)).await?;
    Ok(see_other_with_flash(
        &authed.ctx,
        "/account/security",
        FlashKind::Success,
        &format!("The security key “{name}” is removed and no longer accepted."),
    ))
}

pub async fn begin_sign_in(state: web::Data<AppState>, SecondStep(authed): SecondStep) -> HttpResponse {
    let (user, session, rp) = (authed.user.user_id, authed.user.session_id, state.webauthn.clone());
    let at = state.clock.now();
    challenge(state.run(move |conn| security_keys::begin_authentication(conn, &rp, user, session, at)).await)
}

pub async fn sign_in(
    state: web::Data<AppState>,
    SecondStep(authed): SecondStep,
    req: actix_web::HttpRequest,
    form: web::Form<AnswerForm>,
) -> Result<HttpResponse, AppError> {
    let next = crate::web::next::from_query(req.query_string());
    let (user, rp, ip) = (authed.user.clone(), state.webauthn.clone(), authed.ctx.ip.clone());
    let (credential, at) = (form.into_inner().credential, state.clock.now());
    match state.run(move |conn| security_keys::sign_in(conn, &rp, &user, &credential, ip.as_deref(), at)).await {
        Ok(()) => Ok(see_other(next.as_deref().unwrap_or("/"))),
        Err(AppError::Validation(errors)) => {
            html(StatusCode::UNPROCESSABLE_ENTITY, &SecondFactorPage::new(&authed, errors, next.as_deref()))
        }
        Err(e) => Err(e),
    }
}

pub async fn begin_step_up(state: web::Data<AppState>, authed: Authed) -> HttpResponse {
    let (user, session, rp) = (authed.user.user_id, authed.user.session_id, state.webauthn.clone());
    let at = state.clock.now();
    challenge(state.run(move |conn| security_keys::begin_authentication(conn, &rp, user, session, at)).await)
}

pub async fn step_up(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<NextQuery>,
    form: web::Form<AnswerForm>,
) -> Result<HttpResponse, AppError> {
    let next = local_path(&query.into_inner().next);
    let (user, session, rp) = (authed.user.user_id, authed.user.session_id, state.webauthn.clone());
    let (credential, at) = (form.into_inner().credential, state.clock.now());
    match state.run(move |conn| security_keys::step_up(conn, &rp, user, session, &credential, at)).await {
        Ok(_) => Ok(stepped_up(&authed, &next)),
        Err(AppError::Validation(errors)) => {
            html(StatusCode::UNPROCESSABLE_ENTITY, &StepUpPage::new(&authed, next, errors))
        }
        Err(e) => Err(e),
    }
}
