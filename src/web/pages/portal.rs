//! The payee's own pages (`/payee/…`): sign-in by an emailed link, their page (addresses and
//! payments), and giving an address with a signature from its wallet. A layout of their own:
//! nothing of the staff side is shown or linked.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::asset::Asset;
use crate::error::AppError;
use crate::service::payees::{Period, Statement};
use crate::service::portal::proofs::{self, AddressForm, ChallengeView, ProofForm};
use crate::service::portal::{PayeeActor, links, sessions};
use crate::web::context::{Ctx, FlashKind, RequestContext};
use crate::web::datetime::Stamp as _;
use crate::web::payee_session::{PAYEE_COOKIE, PayeeAuthed};
use crate::web::{html, see_other_with_flash};

/// What every payee page carries.
pub struct PortalLayout {
    pub csrf_token: String,
    pub flash: Option<crate::web::context::Flash>,
    /// The signed-in payee and their organization, once signed in.
    pub who: Option<(String, String)>,
}

impl PortalLayout {
    fn new(ctx: &RequestContext, who: Option<&PayeeActor>) -> PortalLayout {
        PortalLayout {
            csrf_token: ctx.csrf_token.clone(),
            flash: ctx.flash.clone(),
            who: who.map(|w| (w.payee_name.clone(), w.org_name.clone())),
        }
    }
}

#[derive(Template)]
#[template(path = "portal/sign_in.html")]
struct SignInPage {
    layout: PortalLayout,
    email: String,
    errors: FieldErrors,
    sent: bool,
}

pub async fn sign_in_page(Ctx(ctx): Ctx) -> Result<HttpResponse, AppError> {
    let layout = PortalLayout::new(&ctx, None);
    html(StatusCode::OK, &SignInPage { layout, email: String::new(), errors: FieldErrors::new(), sent: false })
}

#[derive(serde::Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

pub async fn sign_in(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    form: web::Form<EmailForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.into_inner().email;
    let (notifier, at, typed) = (state.notifier(), state.clock.now(), email.clone());
    let layout = PortalLayout::new(&ctx, None);
    match state.run(move |conn| crate::service::outbound::links::payee_sign_in(conn, &notifier, &typed, at)).await {
        Ok(()) => html(StatusCode::OK, &SignInPage { layout, email, errors: FieldErrors::new(), sent: true }),
        Err(AppError::Validation(errors)) => {
            html(StatusCode::UNPROCESSABLE_ENTITY, &SignInPage { layout, email, errors, sent: false })
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "portal/link.html")]
struct LinkPage {
    layout: PortalLayout,
    token: String,
    open: bool,
}

/// The page an emailed link opens: a button, so that a mail scanner fetching the link uses
/// nothing up.
pub async fn link_page(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, at) = (token.into_inner(), state.clock.now());
    let checked = token.clone();
    let open = state.run(move |conn| links::is_open(conn, &checked, at)).await?;
    let status = if open { StatusCode::OK } else { StatusCode::GONE };
    let token = if open { token } else { String::new() };
    html(status, &LinkPage { layout: PortalLayout::new(&ctx, None), token, open })
}

pub async fn open_link(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, at) = (token.into_inner(), state.clock.now());
    match state.run(move |conn| links::open(conn, &token, at)).await {
        Ok(opened) => {
            let mut res =
                see_other_with_flash(&ctx, "/payee", FlashKind::Success, &format!("Welcome, {}.", opened.payee_name));
            res.add_cookie(&ctx.cookie(PAYEE_COOKIE, opened.session_token)).ok();
            Ok(res)
        }
        Err(AppError::Conflict(_)) => html(
            StatusCode::GONE,
            &LinkPage { layout: PortalLayout::new(&ctx, None), token: String::new(), open: false },
        ),
        Err(e) => Err(e),
    }
}

pub async fn sign_out(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, AppError> {
    if let Some(token) = req.cookie(PAYEE_COOKIE).map(|c| c.value().to_owned()) {
        state.run(move |conn| sessions::sign_out(conn, &token)).await?;
    }
    let mut res = see_other_with_flash(&ctx, "/payee/sign-in", FlashKind::Success, "You are signed out.");
    res.add_cookie(&ctx.removal_cookie(PAYEE_COOKIE)).ok();
    Ok(res)
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    layout: PortalLayout,
    addresses: Vec<crate::service::portal::home::AddressLine>,
    on_its_way: Vec<crate::service::portal::home::OnItsWay>,
    /// A claim waits for the payee's address: the page asks for it.
    waiting_for_address: bool,
    statement: Statement,
}

pub async fn home(state: web::Data<AppState>, authed: PayeeAuthed) -> Result<HttpResponse, AppError> {
    let who = authed.who.clone();
    let ((addresses, statement), on_its_way) = state
        .run(move |conn| {
            use crate::service::portal::home;
            Ok((home::overview(conn, &who)?, home::on_its_way(conn, &who)?))
        })
        .await?;
    let layout = PortalLayout::new(&authed.ctx, Some(&authed.who));
    let waiting_for_address = on_its_way.iter().any(|p| p.needs_address);
    html(StatusCode::OK, &HomePage { layout, addresses, on_its_way, waiting_for_address, statement })
}

#[derive(Template)]
#[template(path = "portal/address_new.html")]
struct AddressPage {
    layout: PortalLayout,
    assets: Vec<&'static Asset>,
    form: AddressForm,
    errors: FieldErrors,
}

async fn address_page(
    state: &AppState,
    authed: &PayeeAuthed,
    status: StatusCode,
    form: AddressForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let who = authed.who.clone();
    let assets = state.run(move |conn| proofs::assets(conn, &who)).await?;
    html(status, &AddressPage { layout: PortalLayout::new(&authed.ctx, Some(&authed.who)), assets, form, errors })
}

/// The form; `?asset=CODE` (from a payment waiting for their address) chooses its asset.
pub async fn address_new(
    state: web::Data<AppState>,
    authed: PayeeAuthed,
    query: web::Query<AddressForm>,
) -> Result<HttpResponse, AppError> {
    let chosen: String = query.into_inner().asset.chars().take(20).collect();
    let form = AddressForm { asset: chosen, address: String::new() };
    address_page(&state, &authed, StatusCode::OK, form, FieldErrors::new()).await
}

pub async fn address_start(
    state: web::Data<AppState>,
    authed: PayeeAuthed,
    form: web::Form<AddressForm>,
) -> Result<HttpResponse, AppError> {
    let (who, form) = (authed.who.clone(), form.into_inner());
    let submitted = form.clone();
    match state.run(move |conn| proofs::start(conn, &who, &submitted)).await {
        Ok(challenge) => Ok(crate::web::see_other(&format!("/payee/challenges/{}", challenge.id))),
        Err(AppError::Validation(errors)) => {
            address_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "portal/challenge.html")]
struct ChallengePage {
    layout: PortalLayout,
    challenge: ChallengeView,
    expires: String,
    signature: String,
    errors: FieldErrors,
}

async fn challenge_page(
    state: &AppState,
    authed: &PayeeAuthed,
    id: i64,
    status: StatusCode,
    signature: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let who = authed.who.clone();
    let challenge = state.run(move |conn| proofs::find(conn, &who, id)).await?;
    let expires = format!("{} UTC", challenge.expires_at.format("%Y-%m-%d %H:%M"));
    let layout = PortalLayout::new(&authed.ctx, Some(&authed.who));
    html(status, &ChallengePage { layout, challenge, expires, signature, errors })
}

pub async fn challenge(
    state: web::Data<AppState>,
    authed: PayeeAuthed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    challenge_page(&state, &authed, id.into_inner(), StatusCode::OK, String::new(), FieldErrors::new()).await
}

pub async fn prove(
    state: web::Data<AppState>,
    authed: PayeeAuthed,
    id: web::Path<i64>,
    form: web::Form<ProofForm>,
) -> Result<HttpResponse, AppError> {
    let (who, id, form) = (authed.who.clone(), id.into_inner(), form.into_inner());
    let submitted = form.clone();
    match state.run(move |conn| proofs::submit(conn, &who, id, &submitted)).await {
        Ok(done) => {
            let how = if done.proven { "with its proof of ownership" } else { "without a proof of ownership" };
            let message = format!(
                "Your {} address {} is submitted {how}. A manager of {} checks it before it is paid; until then \
                 any address approved before stays in use.",
                done.asset.network, done.address, authed.who.org_name
            );
            Ok(see_other_with_flash(&authed.ctx, "/payee", FlashKind::Success, &message))
        }
        Err(AppError::Validation(errors)) => {
            challenge_page(&state, &authed, id, StatusCode::UNPROCESSABLE_ENTITY, form.signature, errors).await
        }
        Err(AppError::Conflict(message)) => Ok(see_other_with_flash(&authed.ctx, "/payee", FlashKind::Error, &message)),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "portal/statement.html")]
struct StatementPage {
    layout: PortalLayout,
    period: Period,
    statement: Option<Statement>,
    errors: FieldErrors,
    query: String,
}

/// The payee's statement for a period: the payslip view, which prints (or saves as PDF) on its own.
pub async fn statement(
    state: web::Data<AppState>,
    authed: PayeeAuthed,
    period: web::Query<Period>,
) -> Result<HttpResponse, AppError> {
    let (who, period) = (authed.who.clone(), period.into_inner());
    let asked = period.clone();
    let layout = PortalLayout::new(&authed.ctx, Some(&authed.who));
    let query = serde_urlencoded::to_string(&period).unwrap_or_default();
    match state.run(move |conn| crate::service::portal::home::statement(conn, &who, &asked)).await {
        Ok(s) => html(
            StatusCode::OK,
            &StatementPage { layout, period, statement: Some(s), errors: FieldErrors::new(), query },
        ),
        Err(AppError::Validation(errors)) => {
            html(StatusCode::UNPROCESSABLE_ENTITY, &StatementPage { layout, period, statement: None, errors, query })
        }
        Err(e) => Err(e),
    }
}

pub async fn statement_csv(
    state: web::Data<AppState>,
    authed: PayeeAuthed,
    period: web::Query<Period>,
) -> Result<HttpResponse, AppError> {
    let (who, period) = (authed.who.clone(), period.into_inner());
    let body = state.run(move |conn| crate::service::portal::home::statement_csv(conn, &who, &period)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"payments-statement.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}
