//! The JSON API v1: bearer keys, the same services as the dashboard, RFC 9457 problem+json.

pub mod notifications;
pub mod payees;
pub mod payees_json;
pub mod payouts;
pub mod payouts_json;
pub mod schedules;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::access::api_keys::{self, ApiCaller};
use crate::service::access::second_factor;

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
            AppError::Forbidden | AppError::RoleRequired(_) | AppError::NotAllowed(_) => ("forbidden", "Not allowed"),
            AppError::StepUpRequired(_) => ("step-up-required", "A fresh second factor is required"),
            AppError::NotFound => ("not-found", "Not found"),
            AppError::Conflict(_) => ("conflict", "The request conflicts with the payout's state"),
            AppError::TooLarge(_) => ("too-large", "The request body is too large"),
            _ => ("internal", "Internal error"),
        };
        if status.is_server_error() {
            tracing::error!(error = %self.0, "API request failed");
        }
        let detail = match &self.0 {
            AppError::Validation(e) => e.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" "),
            AppError::Unauthenticated => "Send `Authorization: Bearer <key>` with a key an admin created.".into(),
            AppError::NotFound => "There is nothing here, or it belongs to another organization.".into(),
            AppError::Forbidden | AppError::RoleRequired(_) => "The key's user or scopes do not allow this.".into(),
            AppError::NotAllowed(m) | AppError::Conflict(m) | AppError::TooLarge(m) | AppError::StepUpRequired(m) => {
                m.clone()
            }
            _ => "The server could not complete the request; nothing was changed. Try again.".into(),
        };
        let mut body =
            json!({ "type": format!("/problems/{kind}"), "title": title, "status": status.as_u16(), "detail": detail });
        if let AppError::Validation(errors) = &self.0 {
            body["errors"] = errors
                .iter_coded()
                .map(|(field, message, code)| {
                    let field = if field == crate::domain::validation::FORM { "" } else { field };
                    let mut e = json!({ "field": field, "message": message });
                    if let Some(code) = code {
                        e["code"] = json!(code);
                    }
                    e
                })
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

pub(crate) type ApiResult = Result<HttpResponse, ApiError>;

pub const OTP_HEADER: &str = "X-OTP";

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
            // The scheme is case-insensitive (RFC 9110 §11.1).
            .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
            .map(|(_, k)| k)
            .map(|k| k.trim().to_owned());
        let ip = req.peer_addr().map(|a| a.ip().to_string());
        // A code from the key owner's authenticator, for approvals that ask a fresh second factor.
        let otp = req.headers().get(OTP_HEADER).map(|v| v.to_str().unwrap_or("").to_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError(AppError::Internal("state missing".into())))?;
            let key = key.filter(|k| !k.is_empty()).ok_or(ApiError(AppError::Unauthenticated))?;
            let clock = state.clock.clone();
            let caller = state.run(move |conn| api_keys::authenticate(conn, &key, &clock)).await?;
            let mut caller = caller.ok_or(ApiError(AppError::Unauthenticated))?;
            caller.actor.ip = ip;
            if let Some(code) = otp {
                let (user_id, secret, now) = (caller.actor.user_id, state.secret.clone(), state.clock.now());
                let at = state
                    .run(move |conn| second_factor::step_up_with_code(conn, user_id, None, &secret, &code, now))
                    .await
                    .map_err(|e| match e {
                        AppError::Validation(v) => {
                            let message = v.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ");
                            ApiError(FieldErrors::single(OTP_HEADER, message).into())
                        }
                        other => ApiError(other),
                    })?;
                caller.actor.stepped_up_at = Some(at);
            }
            Ok(Api(caller))
        })
    }
}

pub(crate) fn ok(status: StatusCode, value: &impl Serialize) -> ApiResult {
    let body = serde_json::to_string(value).map_err(|e| ApiError(AppError::Internal(e.to_string())))?;
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// The request body, refused once it passes what the largest registry may take as JSON: twice
/// the registry file limit (a 10,000-row payout with comments and references fits).
async fn read_body(state: &AppState, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    read_body_up_to(payload, state.config.registry_limits.max_bytes.saturating_mul(2) as usize).await
}

/// A request body of a payee, an address, a decision or a schedule: small.
pub(crate) async fn read_small_body(payload: web::Payload) -> Result<web::Bytes, ApiError> {
    read_body_up_to(payload, 64 * 1024).await
}

async fn read_body_up_to(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError(FieldErrors::form(format!("The body could not be read: {e}")).into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError(AppError::TooLarge(if limit >= 1024 * 1024 {
                format!("The body is larger than {} MiB; send fewer items per payout.", limit.div_ceil(1024 * 1024))
            } else {
                format!("The body is larger than {} KiB.", limit / 1024)
            })));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError(FieldErrors::form(format!("The body is not valid JSON for this request: {e}")).into()))
}

/// The request's `Idempotency-Key`, empty when missing or not text (the service refuses both).
pub(crate) fn idempotency_key(req: &HttpRequest) -> String {
    req.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// A create's answer, fresh or replayed, as it was first given.
pub(crate) fn answered(answer: crate::service::access::idempotency::Answer) -> ApiResult {
    Ok(HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::CREATED))
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(answer.body))
}

/// Unknown API paths answer problem+json too.
pub async fn not_found() -> ApiResult {
    Err(ApiError(AppError::NotFound))
}

/// An API resource whose other methods answer 405 as problem+json, with the methods it has.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|req: HttpRequest| async move {
        let allow = match req.match_pattern().as_deref() {
            Some("/api/v1/payouts" | "/api/v1/payees" | "/api/v1/schedules") => "GET, POST",
            Some("/api/v1/payees/{id}") => "GET, PUT",
            Some(
                "/api/v1/assets" | "/api/v1/balances" | "/api/v1/payouts/{id}" | "/api/v1/payee-addresses/pending",
            ) => "GET",
            _ => "POST",
        };
        let mut res = problem(StatusCode::METHOD_NOT_ALLOWED, &format!("Use {allow} here."));
        res.headers_mut()
            .insert(actix_web::http::header::ALLOW, actix_web::http::header::HeaderValue::from_static(allow));
        res
    }))
}

fn problem(status: StatusCode, detail: &str) -> HttpResponse {
    let title = status.canonical_reason().unwrap_or("Error");
    let kind = title.to_lowercase().replace(' ', "-");
    let body =
        json!({ "type": format!("/problems/{kind}"), "title": title, "status": status.as_u16(), "detail": detail });
    HttpResponse::build(status).content_type("application/problem+json").body(body.to_string())
}

/// Every API error is problem+json, also those actix answers itself (a body it cannot read, a
/// header it refuses): their plain text becomes the detail.
pub async fn problem_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::header::CONTENT_TYPE;
    let res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            let status = e.as_response_error().status_code();
            let problem = problem(status, &e.to_string());
            return Err(actix_web::error::InternalError::from_response(e, problem).into());
        }
    };
    let status = res.status();
    let is_problem =
        res.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let (request, old) = res.into_parts();
    let text =
        actix_web::body::to_bytes_limited(old.into_body(), 2048).await.ok().and_then(Result::ok).unwrap_or_default();
    let detail: String = String::from_utf8_lossy(&text).chars().take(300).collect();
    let detail =
        if detail.trim().is_empty() { status.canonical_reason().unwrap_or("Error").to_string() } else { detail };
    Ok(actix_web::dev::ServiceResponse::new(request, problem(status, &detail)))
}

/// An RFC 9457 problem document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// A relative URI naming the kind of problem, e.g. `/problems/validation`.
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// For validation problems: each invalid field.
    errors: Option<Vec<payouts_json::FieldError>>,
}

/// A problem+json answer, as the OpenAPI document names it.
fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
        .into()
}

/// The error answers the operations share, named once in `components/responses` and referenced
/// by each operation: `responses((status = 200, …), Denied, Invalid)`.
const SHARED_RESPONSES: [(&str, &str, &str); 5] = [
    ("401", "Unauthorized", "Missing or unknown API key"),
    ("403", "Forbidden", "The key lacks the scope, or a rule forbids it"),
    ("404", "NotFound", "Nothing with this id in the organization"),
    ("409", "Conflict", "Conflicts with the current state (a payout's status, the balance, a decision already made)"),
    ("422", "Unprocessable", "Invalid fields, each named (like items[3].address)"),
];

macro_rules! problem_sets {
    ($($(#[$doc:meta])* $name:ident { $($status:literal),+ })+) => {$(
        $(#[$doc])*
        pub struct $name;
        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
                [$($status),+].into_iter().map(|status| (status.to_string(), shared_response(status))).collect()
            }
        }
    )+};
}

/// A `$ref` to the shared response for `status`.
fn shared_response(status: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    let name = SHARED_RESPONSES.iter().find(|(s, _, _)| *s == status).map_or("", |(_, n, _)| *n);
    utoipa::openapi::RefOr::Ref(utoipa::openapi::Ref::new(format!("#/components/responses/{name}")))
}

problem_sets! {
    /// Every operation: no key, or a key that may not do this.
    Denied { "401", "403" }
    Missing { "404" }
    Conflicting { "409" }
    Invalid { "422" }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in SHARED_RESPONSES {
            components.responses.insert(name.to_owned(), problem_response(description));
        }
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "payouts API", version = "1", description = "Single and mass cryptocurrency payouts. Amounts are decimal strings; times are RFC 3339 UTC; errors are application/problem+json."),
    paths(
        payouts::assets, payouts::balances, payouts::validate_address, payouts::quote, payouts::create,
        payouts::list, payouts::claims, payouts::get, payouts::approve, payouts::reject, payouts::cancel,
        payees::list, payees::create, payees::get, payees::update, payees::archive, payees::restore,
        payees::enter_address, payees::invite, payees::pending, payees::approve, payees::reject,
        schedules::schedules, schedules::create_schedule, schedules::pause_schedule, schedules::resume_schedule,
        notifications::list,
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub async fn openapi_json() -> HttpResponse {
    use utoipa::OpenApi;
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    add_payout_links(&mut doc);
    HttpResponse::Ok().content_type("application/json").body(doc.to_string())
}

/// Links from a created payout, payee or schedule to what can be done with it next, for
/// generated clients and stateful testing: the new id feeds the operations on it. Written into
/// the JSON because utoipa 5.5 serializes a link's `operationId` as `operation_id`.
fn add_payout_links(doc: &mut serde_json::Value) {
    let sets: [(&str, &[(&str, &str)]); 3] = [
        (
            "/paths/~1api~1v1~1payouts/post/responses/201",
            &[
                ("GetPayout", "get"),
                ("ApprovePayout", "approve"),
                ("RejectPayout", "reject"),
                ("CancelPayout", "cancel"),
            ],
        ),
        (
            "/paths/~1api~1v1~1payees/post/responses/201",
            &[
                ("GetPayee", "get_payee"),
                ("UpdatePayee", "update_payee"),
                ("ArchivePayee", "archive_payee"),
                ("RestorePayee", "restore_payee"),
                ("EnterAddress", "enter_payee_address"),
            ],
        ),
        (
            "/paths/~1api~1v1~1schedules/post/responses/201",
            &[("PauseSchedule", "pause_schedule"), ("ResumeSchedule", "resume_schedule")],
        ),
    ];
    for (pointer, operations) in sets {
        let links: serde_json::Map<String, serde_json::Value> = operations
            .iter()
            .map(|(name, operation)| {
                (name.to_string(), json!({ "operationId": operation, "parameters": { "id": "$response.body#/id" } }))
            })
            .collect();
        if let Some(created) = doc.pointer_mut(pointer) {
            created["links"] = serde_json::Value::Object(links);
        }
    }
}
