//! The per-request context: who is signed in, the CSRF token, the flash message. One middleware
//! loads it and enforces CSRF on every state-changing request; extractors hand it to handlers.

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};

use super::csrf;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::second_factor;
use crate::service::access::sessions::{self, SessionUser, Stage};
use crate::{AppState, crypto};

pub use super::request::{FLASH_COOKIE, Flash, FlashKind, LOGIN_CSRF_COOKIE, RequestContext, SESSION_COOKIE};

/// Static files and health need no session; the JSON API authenticates each request with its
/// own bearer key and sends no cookies, so it needs neither session nor CSRF token.
fn skips_session(path: &str) -> bool {
    // The API docs are a page like the others (header, menu, who is signed in); the rest of
    // /api answers to bearer keys, never to the session.
    path.starts_with("/static/") || path == "/healthz" || (path.starts_with("/api/") && path != "/api/docs")
}

pub async fn session_layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if skips_session(req.path()) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))?;
    let secure = req.connection_info().scheme() == "https";
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let session_token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let (user, pending_approvals, unread_notices) = match session_token.clone() {
        Some(token) => {
            let (config, at) = (state.config.clone(), state.clock.now());
            let resolved = state
                .run(move |conn| {
                    // The header's badges come with the session, in its one statement.
                    let user = sessions::resolve(conn, &token, &config, at)?;
                    let pending = match &user {
                        Some(u) if u.role.can_approve() && u.stage == Stage::Full => Some(u.badges.pending),
                        _ => None,
                    };
                    let unread = match &user {
                        Some(u) if u.stage == Stage::Full => u.badges.unread,
                        _ => 0,
                    };
                    Ok::<_, AppError>((user, pending, unread))
                })
                .await;
            match resolved {
                Ok(found) => found,
                Err(e) => return Ok(req.error_response(e).map_into_right_body()),
            }
        }
        None => (None, None, 0),
    };
    let mut new_nonce = None;
    let csrf_token = match &user {
        Some(u) => u.csrf_token.clone(),
        None => {
            let nonce = match req.cookie(LOGIN_CSRF_COOKIE) {
                Some(c) if c.value().len() == 32 => c.value().to_owned(),
                _ => {
                    let n = crypto::random_hex(16);
                    new_nonce = Some(n.clone());
                    n
                }
            };
            csrf::login_token(&state.secret, &nonce)
        }
    };
    let mut user = user;
    if csrf::is_state_changing(req.method()) {
        let supplied = csrf::supplied(&mut req).await;
        if !supplied.token.is_some_and(|s| crypto::constant_time_eq(&s, &csrf_token)) {
            tracing::warn!(route = %super::request_log::route_of(&req), "CSRF token missing or wrong");
            return Ok(req.error_response(AppError::Csrf).map_into_right_body());
        }
        // A form that asked for a fresh code carries it as `otp`: checked here, once, for every
        // action that needs a step-up, before its handler runs.
        if let (Some(code), Some(u)) = (supplied.otp, user.as_mut())
            && u.stage == Stage::Full
        {
            let (user_id, session_id, secret, at) = (u.user_id, u.session_id, state.secret.clone(), state.clock.now());
            match state
                .run(move |conn| second_factor::step_up_with_code(conn, user_id, Some(session_id), &secret, &code, at))
                .await
            {
                Ok(at) => u.stepped_up_at = Some(at),
                Err(e) => return Ok(req.error_response(e).map_into_right_body()),
            }
        }
    }
    let flash = req.cookie(FLASH_COOKIE).and_then(|c| Flash::decode(c.value()));
    let ctx = RequestContext {
        stale_session: session_token.is_some() && user.is_none(),
        pending_approvals,
        unread_notices,
        user,
        csrf_token,
        flash,
        ip,
        secure,
        session_token,
        demo: state.config.demo,
        clock: state.clock.clone(),
    };
    req.extensions_mut().insert(ctx.clone());
    let res = return_after_sign_in(next.call(req).await?);
    let mut res = match error_in_layout(&state, &ctx, &res).await {
        Some(page) => {
            let (req, _) = res.into_parts();
            ServiceResponse::new(req, page).map_into_right_body()
        }
        None => res.map_into_left_body(),
    };
    let response = res.response_mut();
    // A page that showed the flash consumes it; a redirect carries it on to the next page.
    if ctx.flash.is_some() && !response.status().is_redirection() && !sets_cookie(response, FLASH_COOKIE) {
        response.add_cookie(&ctx.removal_cookie(FLASH_COOKIE)).ok();
    }
    if let Some(nonce) = new_nonce {
        response.add_cookie(&ctx.cookie(LOGIN_CSRF_COOKIE, nonce)).ok();
    }
    if ctx.stale_session && !sets_cookie(response, SESSION_COOKIE) {
        response.add_cookie(&ctx.removal_cookie(SESSION_COOKIE)).ok();
    }
    Ok(res)
}

/// A page asked for while signed out (or with the second factor still to give) sends the person
/// to sign in with the page to come back to: a link from an email survives signing in. Only
/// pages one can open (GET, not htmx fragments), and only paths of this site.
fn return_after_sign_in<B>(mut res: ServiceResponse<B>) -> ServiceResponse<B> {
    let sign_in = match res.response().error().and_then(|e| e.as_error::<AppError>()) {
        Some(AppError::Unauthenticated) => "/login",
        Some(AppError::SecondFactorRequired) => "/login/second-factor",
        _ => return res,
    };
    let req = res.request();
    // The payee's pages have their own sign-in, by an emailed link.
    if req.path() == "/payee" || req.path().starts_with("/payee/") {
        let to = HeaderValue::from_static("/payee/sign-in");
        res.headers_mut().insert(LOCATION, to.clone());
        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("hx-redirect"), to);
        return res;
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) || req.headers().contains_key("HX-Request") {
        return res;
    }
    let asked = match req.query_string() {
        "" => req.path().to_owned(),
        q => format!("{}?{q}", req.path()),
    };
    let Some(asked) = super::next::local_path(&asked).filter(|p| p != "/") else { return res };
    if let Ok(location) = HeaderValue::from_str(&super::next::with_next(sign_in, Some(&asked))) {
        res.headers_mut().insert(LOCATION, location);
    }
    res
}

/// A page's error re-rendered inside the layout. Not for htmx requests: their answer is swapped
/// into a part of the page, which must not get a second header.
async fn error_in_layout<B>(state: &AppState, ctx: &RequestContext, res: &ServiceResponse<B>) -> Option<HttpResponse> {
    let status = res.status();
    if !status.is_client_error() && !status.is_server_error() || res.request().headers().contains_key("HX-Request") {
        return None;
    }
    let error = res.response().error()?.as_error::<AppError>()?;
    super::error_page::render(state, ctx, error, status).await
}

fn sets_cookie<B>(response: &actix_web::HttpResponse<B>, name: &str) -> bool {
    response.cookies().any(|c| c.name() == name)
}

/// The request context; present on every request that passed the session layer.
pub struct Ctx(pub RequestContext);

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<RequestContext>()
                .cloned()
                .map(Ctx)
                .ok_or_else(|| AppError::Internal("request context missing".into())),
        )
    }
}

/// A signed-in user; anyone else is sent to the sign-in page.
pub struct Authed {
    pub ctx: RequestContext,
    pub user: SessionUser,
}

impl Authed {
    pub fn actor(&self) -> Actor {
        self.ctx.actor().expect("an Authed context has a user")
    }
}

/// The signed-in user at any of `stages`; a session elsewhere in signing in is sent where it
/// must go next.
fn signed_in(req: &HttpRequest, stages: &[Stage]) -> Result<Authed, AppError> {
    let ctx = req.extensions().get::<RequestContext>().cloned();
    let ctx = ctx.ok_or_else(|| AppError::Internal("request context missing".into()))?;
    let user = ctx.user.clone().ok_or(AppError::Unauthenticated)?;
    if stages.contains(&user.stage) {
        return Ok(Authed { ctx, user });
    }
    Err(match user.stage {
        Stage::SecondFactor => AppError::SecondFactorRequired,
        Stage::Enrol => AppError::EnrolmentRequired,
        Stage::Full => AppError::NotFound,
    })
}

impl FromRequest for Authed {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(signed_in(req, &[Stage::Full]))
    }
}

/// A session whose password was right, waiting for its second factor.
pub struct SecondStep(pub Authed);

impl FromRequest for SecondStep {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(signed_in(req, &[Stage::SecondFactor]).map(SecondStep))
    }
}

/// Signed in, or signed in only to set up the second factor the organization requires: the
/// account security pages.
pub struct Enrolling(pub Authed);

impl FromRequest for Enrolling {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(signed_in(req, &[Stage::Full, Stage::Enrol]).map(Enrolling))
    }
}

/// Any session, wherever it is in signing in: signing out.
pub struct AnySession(pub Authed);

impl FromRequest for AnySession {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(signed_in(req, &[Stage::Full, Stage::Enrol, Stage::SecondFactor]).map(AnySession))
    }
}
