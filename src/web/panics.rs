//! A panic in a handler becomes a 500 page (problem+json under /api), never a dropped
//! connection: one broken page must not take the request, or the worker, down with it.

use std::panic::AssertUnwindSafe;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::error::AppError;

pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // The request cannot be kept aside (routing needs it unshared): an error stands in for the
    // response, and the layers around render it.
    let api = req.path().starts_with("/api/");
    let route = super::request_log::route_of(&req);
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res.map(ServiceResponse::map_into_boxed_body),
        Err(_) => {
            let error = AppError::Internal(format!("the handler of {route} panicked"));
            if api { Err(super::api::ApiError(error).into()) } else { Err(error.into()) }
        }
    }
}
