//! One log line per request, tagged with a request id that the response also carries.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::crypto;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = crypto::random_hex(8);
    let method = crate::metrics::method_label(req.method());
    // The route's pattern (`/password/reset/{token}`), never the path or its query: a path can
    // carry a secret (a reset or invitation token), and what people type never becomes a metric
    // label or a log line.
    let route = route_of(&req);
    // Matched once per request (a regex walk over the route table): the layers inside read it.
    req.extensions_mut().insert(RoutePattern(route.clone()));
    let span = tracing::info_span!("request", id = %id);
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let ms = seconds * 1000.0;
    let _entered = span.enter();
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            crate::metrics::request(method, &route, status, seconds);
            tracing::info!(method, %route, status, ms = format_args!("{ms:.1}"), "request");
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            crate::metrics::request(method, &route, status, seconds);
            tracing::info!(method, %route, status, ms = format_args!("{ms:.1}"), "request");
            Err(e)
        }
    }
}

/// The request's route pattern, as the request log matched it.
#[derive(Clone)]
pub struct RoutePattern(pub String);

/// The request's route pattern, or "unmatched": what logs, errors and metrics may name.
pub fn route_of(req: &ServiceRequest) -> String {
    if let Some(RoutePattern(route)) = req.extensions().get::<RoutePattern>() {
        return route.clone();
    }
    req.match_pattern().unwrap_or_else(|| "unmatched".to_owned())
}
