//! The payee's session: its own cookie, resolved once per request by this layer. A browser that
//! holds only a payee session reaches the payee's pages (`/payee/…`) and nothing else: every
//! staff page and API route answers 404 to it, as if it did not exist.

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::AppState;
use crate::error::AppError;
use crate::service::portal::PayeeActor;
use crate::service::portal::sessions;

pub const PAYEE_COOKIE: &str = "payouts_payee";

/// The payee's side of the site, and what anyone may fetch.
fn payee_side(path: &str) -> bool {
    path == "/payee" || path.starts_with("/payee/") || path.starts_with("/static/") || path == "/favicon.ico"
}

/// A payee signed in, for the payee's pages.
#[derive(Clone)]
struct Resolved(PayeeActor);

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(token) = req.cookie(PAYEE_COOKIE).map(|c| c.value().to_owned()) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    if req.path() == "/healthz" {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))?;
    let (clock, at) = (state.clock.clone(), state.clock.now());
    let found = match state.run(move |conn| sessions::resolve(conn, &token, &clock, at)).await {
        Ok(found) => found,
        Err(e) => return Ok(req.error_response(e).map_into_right_body()),
    };
    match found {
        Some(payee) => {
            // A staff session in the same browser keeps its own pages.
            if !payee_side(req.path()) && req.cookie(super::request::SESSION_COOKIE).is_none() {
                return Ok(req.error_response(AppError::NotFound).map_into_right_body());
            }
            req.extensions_mut().insert(Resolved(payee));
            next.call(req).await.map(ServiceResponse::map_into_left_body)
        }
        None => {
            // Ended or expired: forgotten, and the browser told to drop it.
            let secure = req.connection_info().scheme() == "https";
            let mut res = next.call(req).await?;
            let mut gone = actix_web::cookie::Cookie::build(PAYEE_COOKIE, "")
                .path("/")
                .http_only(true)
                .same_site(actix_web::cookie::SameSite::Lax)
                .secure(secure)
                .finish();
            gone.make_removal();
            res.response_mut().add_cookie(&gone).ok();
            Ok(res.map_into_left_body())
        }
    }
}

/// The signed-in payee; without one, the payee's pages send them to sign in.
pub struct PayeeAuthed {
    pub who: PayeeActor,
    pub ctx: super::context::RequestContext,
}

impl FromRequest for PayeeAuthed {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let who = req.extensions().get::<Resolved>().map(|r| r.0.clone());
        let ctx = req.extensions().get::<super::context::RequestContext>().cloned();
        ready(match (who, ctx) {
            (Some(who), Some(ctx)) => Ok(PayeeAuthed { who, ctx }),
            _ => Err(AppError::Unauthenticated),
        })
    }
}
