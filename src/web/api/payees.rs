//! The JSON API v1's payee book and address approvals.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};

use super::payees_json::{self as api, AddressRequest, DecisionRequest, PayeeListParams, PayeeRequest};
use super::{
    Api, ApiResult, Conflicting, Denied, Invalid, Missing, answered, idempotency_key, ok, parse, read_small_body,
};
use crate::AppState;
use crate::service::views::payees::{PayeeAddressJson, PayeeJson};

#[utoipa::path(get, path = "/api/v1/payees", operation_id = "list_payees", tag = "payees", security(("bearer" = [])), params(PayeeListParams),
    responses((status = 200, description = "Payees by name, with their addresses", body = api::PayeeListResponse), Denied, Invalid))]
pub async fn list(state: web::Data<AppState>, Api(caller): Api, params: web::Query<PayeeListParams>) -> ApiResult {
    let params = params.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::list(conn, &caller, &params)).await?)
}

#[utoipa::path(post, path = "/api/v1/payees", operation_id = "create_payee", tag = "payees", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required. The same key and body again returns the first answer.")),
    request_body = PayeeRequest,
    responses((status = 201, description = "The payee; each address is pending a manager's approval", body = PayeeJson), Denied, Conflicting, Invalid))]
pub async fn create(state: web::Data<AppState>, req: HttpRequest, Api(caller): Api, body: web::Payload) -> ApiResult {
    let key = idempotency_key(&req);
    let payee: PayeeRequest = parse(&read_small_body(body).await?)?;
    answered(state.run(move |conn| api::create(conn, &caller, &key, &payee)).await?)
}

#[utoipa::path(get, path = "/api/v1/payees/{id}", operation_id = "get_payee", tag = "payees", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee id")),
    responses((status = 200, description = "The payee with every address it has had", body = PayeeJson), Denied, Missing))]
pub async fn get(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::get(conn, &caller, id)).await?)
}

#[utoipa::path(put, path = "/api/v1/payees/{id}", operation_id = "update_payee", tag = "payees", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee id")),
    request_body = PayeeRequest,
    responses((status = 200, description = "Name, email, external id, notes and tags replaced; addresses unchanged", body = PayeeJson), Denied, Missing, Invalid))]
pub async fn update(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>, body: web::Payload) -> ApiResult {
    let id = id.into_inner();
    let payee: PayeeRequest = parse(&read_small_body(body).await?)?;
    ok(StatusCode::OK, &state.run(move |conn| api::update(conn, &caller, id, &payee)).await?)
}

#[utoipa::path(post, path = "/api/v1/payees/{id}/archive", operation_id = "archive_payee", tag = "payees", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee id")),
    responses((status = 200, description = "Archived: left out of lists and pickers, kept with its history", body = PayeeJson), Denied, Missing))]
pub async fn archive(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::set_archived(conn, &caller, id, true)).await?)
}

#[utoipa::path(post, path = "/api/v1/payees/{id}/restore", operation_id = "restore_payee", tag = "payees", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee id")),
    responses((status = 200, description = "Back in the book", body = PayeeJson), Denied, Missing))]
pub async fn restore(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::set_archived(conn, &caller, id, false)).await?)
}

#[utoipa::path(post, path = "/api/v1/payees/{id}/addresses", operation_id = "enter_payee_address", tag = "payees", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee id")),
    request_body = AddressRequest,
    responses((status = 200, description = "The address, pending a manager's approval (or the payee's current one, unchanged)", body = PayeeAddressJson), Denied, Missing, Invalid))]
pub async fn enter_address(
    state: web::Data<AppState>,
    Api(caller): Api,
    id: web::Path<i64>,
    body: web::Payload,
) -> ApiResult {
    let id = id.into_inner();
    let req: AddressRequest = parse(&read_small_body(body).await?)?;
    ok(StatusCode::OK, &state.run(move |conn| api::enter_address(conn, &caller, id, &req)).await?)
}

#[utoipa::path(post, path = "/api/v1/payees/{id}/invite", operation_id = "invite_payee", tag = "payees", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee id")),
    responses((status = 200, description = "A one-time link to the payee's own page (72 hours), emailed to the payee's email; there they give their address and prove it with a signature from its wallet", body = api::InvitationJson), Denied, Missing, Conflicting, Invalid))]
pub async fn invite(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let (id, notifier) = (id.into_inner(), state.notifier());
    ok(StatusCode::OK, &state.run(move |conn| api::invite(conn, &caller, &notifier, id)).await?)
}

#[utoipa::path(get, path = "/api/v1/payee-addresses/pending", operation_id = "pending_payee_addresses", tag = "approvals", security(("bearer" = [])),
    responses((status = 200, description = "Addresses awaiting a manager, oldest first", body = [api::PendingAddressJson]), Denied))]
pub async fn pending(state: web::Data<AppState>, Api(caller): Api) -> ApiResult {
    ok(StatusCode::OK, &state.run(move |conn| api::pending(conn, &caller)).await?)
}

#[utoipa::path(post, path = "/api/v1/payee-addresses/{id}/approve", operation_id = "approve_payee_address", tag = "approvals", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee address id")),
    request_body(content = DecisionRequest, description = "Optional"),
    responses((status = 200, description = "Approved: payable once the cooling-off period has passed. A lookalike address needs `acknowledge_lookalike` and two different managers: after the first it stays `pending`", body = PayeeAddressJson), Denied, Missing, Conflicting, Invalid))]
pub async fn approve(
    state: web::Data<AppState>,
    Api(caller): Api,
    id: web::Path<i64>,
    body: web::Payload,
) -> ApiResult {
    decide(state, caller, id.into_inner(), true, body).await
}

#[utoipa::path(post, path = "/api/v1/payee-addresses/{id}/reject", operation_id = "reject_payee_address", tag = "approvals", security(("bearer" = [])), params(("id" = i64, Path, description = "Payee address id")),
    request_body = DecisionRequest,
    responses((status = 200, description = "Rejected: never payable", body = PayeeAddressJson), Denied, Missing, Conflicting, Invalid))]
pub async fn reject(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>, body: web::Payload) -> ApiResult {
    decide(state, caller, id.into_inner(), false, body).await
}

async fn decide(
    state: web::Data<AppState>,
    caller: crate::service::access::api_keys::ApiCaller,
    id: i64,
    approve: bool,
    body: web::Payload,
) -> ApiResult {
    let bytes = read_small_body(body).await?;
    // Approving needs no body; an empty one is no reason.
    let req: DecisionRequest =
        if bytes.iter().all(u8::is_ascii_whitespace) { DecisionRequest::default() } else { parse(&bytes)? };
    ok(StatusCode::OK, &state.run(move |conn| api::decide(conn, &caller, id, approve, &req)).await?)
}
