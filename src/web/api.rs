//! The JSON API v1: bearer keys, the same services as the dashboard, RFC 9457 problem+json.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::api::{self, ListParams, PayoutRequest, ReasonRequest, ValidateRequest};
use crate::service::api_keys::{self, ApiCaller};

/// An error as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (kind, title) = match &self.0 {
            AppError::Validation(_) => ("validation", "The request has invalid fields"),
            AppError::Unauthenticated => ("unauthenticated", "A valid API key is required"),
            AppError::Forbidden | AppError::NotAllowed(_) => ("forbidden", "Not allowed"),
            AppError::NotFound => ("not-found", "Not found"),
            AppError::Conflict(_) => ("conflict", "The request conflicts with the payout's state"),
            _ => ("internal", "Internal error"),
        };
        if status.is_server_error() {
            tracing::error!(error = %self.0, "API request failed");
        }
        let detail = match &self.0 {
            AppError::Validation(e) => e.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" "),
            AppError::Unauthenticated => "Send `Authorization: Bearer <key>` with a key an admin created.".into(),
            AppError::NotFound => "There is nothing here, or it belongs to another organization.".into(),
            AppError::Forbidden => "The key's user or scopes do not allow this.".into(),
            AppError::NotAllowed(m) | AppError::Conflict(m) => m.clone(),
            _ => "The server could not complete the request; nothing was changed. Try again.".into(),
        };
        let mut body =
            json!({ "type": format!("/problems/{kind}"), "title": title, "status": status.as_u16(), "detail": detail });
        if let AppError::Validation(errors) = &self.0 {
            body["errors"] = errors
                .iter()
                .map(|(field, message)| json!({ "field": if field == crate::domain::validation::FORM { "" } else { field }, "message": message }))
                .collect();
        }
        let mut res = HttpResponse::build(status);
        res.content_type("application/problem+json");
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        res.body(body.to_string())
    }
}

type ApiResult = Result<HttpResponse, ApiError>;

/// The caller named by the bearer key.
pub struct Api(pub ApiCaller);

impl FromRequest for Api {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let key = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|k| k.trim().to_owned());
        let ip = req.peer_addr().map(|a| a.ip().to_string());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError(AppError::Internal("state missing".into())))?;
            let key = key.filter(|k| !k.is_empty()).ok_or(ApiError(AppError::Unauthenticated))?;
            let caller = state.run(move |conn| api_keys::authenticate(conn, &key)).await?;
            let mut caller = caller.ok_or(ApiError(AppError::Unauthenticated))?;
            caller.actor.ip = ip;
            Ok(Api(caller))
        })
    }
}

fn ok(status: StatusCode, value: &impl Serialize) -> ApiResult {
    let body = serde_json::to_string(value).map_err(|e| ApiError(AppError::Internal(e.to_string())))?;
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError(FieldErrors::form(format!("The body is not valid JSON for this request: {e}")).into()))
}

pub async fn assets(state: web::Data<AppState>, Api(caller): Api) -> ApiResult {
    ok(StatusCode::OK, &state.run(move |conn| api::assets(conn, &caller)).await?)
}

pub async fn balances(state: web::Data<AppState>, Api(caller): Api) -> ApiResult {
    ok(StatusCode::OK, &state.run(move |conn| api::balances(conn, &caller)).await?)
}

pub async fn validate_address(Api(caller): Api, body: web::Bytes) -> ApiResult {
    let req: ValidateRequest = parse(&body)?;
    ok(StatusCode::OK, &api::validate_address(&caller, &req)?)
}

pub async fn quote(state: web::Data<AppState>, Api(caller): Api, body: web::Bytes) -> ApiResult {
    let req: PayoutRequest = parse(&body)?;
    let limits = state.config.registry_limits;
    ok(StatusCode::OK, &state.run(move |conn| api::quote(conn, &caller, &req, &limits)).await?)
}

pub async fn create(state: web::Data<AppState>, req: HttpRequest, Api(caller): Api, body: web::Bytes) -> ApiResult {
    let key = req.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let value: serde_json::Value = parse(&body)?;
    let limits = state.config.registry_limits;
    let answer = state.run(move |conn| api::create(conn, &caller, &key, &value, &limits)).await?;
    Ok(HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::CREATED))
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(answer.body))
}

pub async fn list(state: web::Data<AppState>, Api(caller): Api, params: web::Query<ListParams>) -> ApiResult {
    let params = params.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::list(conn, &caller, &params)).await?)
}

pub async fn get(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::get(conn, &caller, id)).await?)
}

pub async fn approve(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::approve(conn, &caller, id)).await?)
}

pub async fn reject(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>, body: web::Bytes) -> ApiResult {
    let id = id.into_inner();
    let req: ReasonRequest = parse(&body)?;
    ok(StatusCode::OK, &state.run(move |conn| api::reject(conn, &caller, id, &req.reason)).await?)
}

pub async fn cancel(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>, body: web::Bytes) -> ApiResult {
    let id = id.into_inner();
    let req: ReasonRequest = parse(&body)?;
    ok(StatusCode::OK, &state.run(move |conn| api::cancel(conn, &caller, id, &req.reason)).await?)
}

/// Unknown API paths answer problem+json too.
pub async fn not_found() -> ApiResult {
    Err(ApiError(AppError::NotFound))
}
