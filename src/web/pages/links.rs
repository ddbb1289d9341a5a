//! Pages reached from an emailed link, before signing in: accepting an invitation, asking for a
//! password reset and choosing the new password.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::access::invitations::{self, AcceptForm};
use crate::service::access::password_reset::{self, ResetForm};
use crate::web::context::{Ctx, FlashKind, RequestContext};
use crate::web::layout::Layout;
use crate::web::{html, see_other_with_flash};

#[derive(Template)]
#[template(path = "pages/set_password.html")]
pub struct SetPasswordPage {
    pub layout: Layout,
    pub title: &'static str,
    pub intro: String,
    pub action: String,
    pub button: &'static str,
    pub email: String,
    pub errors: FieldErrors,
}

fn set_password_page(
    ctx: &RequestContext,
    status: StatusCode,
    invitation: bool,
    token: &str,
    email: String,
    intro: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (title, action, button) = if invitation {
        ("Join Payouts", format!("/invitation/{token}"), "Create my account")
    } else {
        ("Choose a new password", format!("/password/reset/{token}"), "Set the new password")
    };
    html(status, &SetPasswordPage { layout: Layout::new(ctx, ""), title, intro, action, button, email, errors })
}

/// A token from a link: only hex of the length we issue reaches the database.
fn token(path: web::Path<String>) -> Result<String, AppError> {
    let t = path.into_inner();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) { Ok(t) } else { Err(AppError::NotFound) }
}

pub async fn invitation(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    invitation_page(&state, &ctx, &token(path)?, StatusCode::OK, FieldErrors::new()).await
}

/// The invitation's password form, while its link is open.
async fn invitation_page(
    state: &AppState,
    ctx: &RequestContext,
    token: &str,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (t, at) = (token.to_owned(), state.clock.now());
    let inv = state.run(move |conn| invitations::open(conn, &t, at)).await?;
    let intro = format!("You are invited as {}. Choose your password to create your account.", inv.role);
    set_password_page(ctx, status, true, token, inv.email, intro, errors)
}

pub async fn accept_invitation(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let token = token(path)?;
    let (t, at, form) = (token.clone(), state.clock.now(), form.into_inner());
    match state.run(move |conn| invitations::accept(conn, &t, &form, at)).await {
        Ok(email) => Ok(see_other_with_flash(
            &ctx,
            "/login",
            FlashKind::Success,
            &format!("Your account {email} is ready: sign in with your new password."),
        )),
        Err(AppError::Validation(errors)) => {
            invitation_page(&state, &ctx, &token, StatusCode::UNPROCESSABLE_ENTITY, errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "pages/password_forgot.html")]
pub struct ForgotPage {
    pub layout: Layout,
    pub email: String,
    pub sent: bool,
    pub errors: FieldErrors,
    /// The server sends email; without it nobody could receive a link.
    pub mail: bool,
}

pub async fn forgot(state: web::Data<AppState>, Ctx(ctx): Ctx) -> Result<HttpResponse, AppError> {
    let page = ForgotPage {
        layout: Layout::new(&ctx, ""),
        email: String::new(),
        sent: false,
        errors: FieldErrors::new(),
        mail: state.config.smtp.is_some(),
    };
    html(StatusCode::OK, &page)
}

#[derive(serde::Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// The same answer whether or not the address has an account, and the same work to give it.
pub async fn request_reset(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    form: web::Form<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.into_inner().email;
    let (typed, ip, at) = (email.clone(), ctx.ip.clone(), state.clock.now());
    match state.run(move |conn| password_reset::request(conn, &typed, ip.as_deref(), at)).await {
        Ok(()) => html(
            StatusCode::OK,
            &ForgotPage {
                layout: Layout::new(&ctx, ""),
                email,
                sent: true,
                errors: FieldErrors::new(),
                mail: state.config.smtp.is_some(),
            },
        ),
        Err(AppError::Validation(errors)) => html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ForgotPage {
                layout: Layout::new(&ctx, ""),
                email,
                sent: false,
                errors,
                mail: state.config.smtp.is_some(),
            },
        ),
        Err(e) => Err(e),
    }
}

pub async fn reset(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    reset_page(&state, &ctx, &token(path)?, StatusCode::OK, FieldErrors::new()).await
}

/// The reset link's password form, while the link can be used.
async fn reset_page(
    state: &AppState,
    ctx: &RequestContext,
    token: &str,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (t, at) = (token.to_owned(), state.clock.now());
    let email = state.run(move |conn| password_reset::open(conn, &t, at)).await?;
    let intro = "Choose a new password. Every session of your account ends when you save it.".to_owned();
    set_password_page(ctx, status, false, token, email, intro, errors)
}

pub async fn complete_reset(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    path: web::Path<String>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let token = token(path)?;
    let (t, at, ip, form) = (token.clone(), state.clock.now(), ctx.ip.clone(), form.into_inner());
    match state.run(move |conn| password_reset::complete(conn, &t, &form, ip.as_deref(), at)).await {
        Ok(_) => Ok(see_other_with_flash(
            &ctx,
            "/login",
            FlashKind::Success,
            "Your password is changed and every session ended: sign in with the new one.",
        )),
        Err(AppError::Validation(errors)) => {
            reset_page(&state, &ctx, &token, StatusCode::UNPROCESSABLE_ENTITY, errors).await
        }
        Err(e) => Err(e),
    }
}
