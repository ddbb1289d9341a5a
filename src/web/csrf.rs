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

#[derive(serde::Deserialize)]
struct TokenField {
    csrf_token: Option<String>,
}

/// The token the request carries: the `X-CSRF-Token` header (htmx), else the `csrf_token` field
/// of a urlencoded form body (which is put back for the handler), else the query string (for
/// multipart uploads, whose body is streamed and not read here).
pub async fn supplied_token(req: &mut ServiceRequest) -> Option<String> {
    if let Some(v) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.to_owned());
    }
    if req.content_type() == "application/x-www-form-urlencoded" {
        let body = req.extract::<Bytes>().await.ok()?;
        let token = serde_urlencoded::from_bytes::<TokenField>(&body).ok().and_then(|f| f.csrf_token);
        req.set_payload(actix_web::dev::Payload::from(body));
        if token.is_some() {
            return token;
        }
    }
    serde_urlencoded::from_str::<TokenField>(req.query_string()).ok().and_then(|f| f.csrf_token)
}
