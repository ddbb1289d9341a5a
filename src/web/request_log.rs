//! One log line per request, tagged with a request id that the response also carries.

use std::time::Instant;

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
    let method = req.method().to_string();
    let path = req.path().to_owned();
    // The route's pattern, not the path: what people type never becomes a metric label.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", id = %id);
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let ms = seconds * 1000.0;
    let _entered = span.enter();
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            crate::metrics::request(&method, &route, status, seconds);
            tracing::info!(%method, %path, status, ms = format_args!("{ms:.1}"), "request");
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            crate::metrics::request(&method, &route, status, seconds);
            tracing::info!(%method, %path, status, ms = format_args!("{ms:.1}"), "request");
            Err(e)
        }
    }
}
