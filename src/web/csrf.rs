//! CSRF tokens. A signed-in session has its own random token (stored with the session); before
//! sign-in the token is an HMAC of a random cookie value (the signed double-submit cookie), so
//! the sign-in form is protected too.

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::web::Bytes;

use crate::crypto;

pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "X-CSRF-Token";

/// The pre-session token for a cookie nonce.
pub fn login_token(secret: &[u8], nonce: &str) -> String {
    crypto::hmac_sha256_hex(secret, format!("login-csrf:{nonce}").as_bytes())
}

pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

#[derive(serde::Deserialize, Default)]
struct FormFields {
    csrf_token: Option<String>,
    otp: Option<String>,
}

/// What a state-changing request carries besides its own fields: the CSRF token, and a code
/// for a step-up (`otp`) when the form asked for one.
#[derive(Default)]
pub struct Supplied {
    pub token: Option<String>,
    pub otp: Option<String>,
}

/// The token: the `X-CSRF-Token` header (htmx), else the `csrf_token` field of a urlencoded
/// form body (which is put back for the handler), else the query string (for multipart uploads,
/// whose body is streamed and not read here). The code: the form's `otp` field or `X-OTP`.
pub async fn supplied(req: &mut ServiceRequest) -> Supplied {
    let header =
        |req: &ServiceRequest, name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut form = FormFields::default();
    if req.content_type() == "application/x-www-form-urlencoded"
        && let Ok(body) = req.extract::<Bytes>().await
    {
        form = serde_urlencoded::from_bytes::<FormFields>(&body).unwrap_or_default();
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    let token = header(req, HEADER)
        .or(form.csrf_token)
        .or_else(|| serde_urlencoded::from_str::<FormFields>(req.query_string()).ok().and_then(|f| f.csrf_token));
    let otp = form.otp.or_else(|| header(req, "X-OTP")).filter(|c| !c.trim().is_empty());
    Supplied { token, otp }
}
