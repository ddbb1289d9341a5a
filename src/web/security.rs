//! Security headers on every response.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, REFERRER_POLICY};
use actix_web::middleware::{DefaultHeaders, Next};

/// Only the app's own scripts and styles; no framing; no sniffing; no referrer leaving the site.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'; object-src 'none'";

pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "strict-origin-when-cross-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
}

/// The pages whose path is a secret (a reset or invitation token, a payee's one-time link).
pub const SECRET_ROUTES: [&str; 3] = ["/invitation/{token}", "/password/reset/{token}", "/payee/link/{token}"];

/// A page whose path is a secret sends no Referer anywhere, not even to this site, whatever it
/// answers (the error pages too).
pub async fn secret_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let secret = SECRET_ROUTES.contains(&super::request_log::route_of(&req).as_str());
    let mut res = next.call(req).await?;
    if secret {
        res.headers_mut().insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    Ok(res)
}
