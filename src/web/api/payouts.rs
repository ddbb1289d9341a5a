//! The JSON API v1's payouts: reference data, quote, create, list, get, and the decisions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};

use super::payouts_json::{self as api, ListParams, PayoutRequest, ReasonRequest, ValidateRequest};
use super::{
    Api, ApiError, ApiResult, Conflicting, Denied, Invalid, Missing, answered, idempotency_key, ok, parse, read_body,
};
use crate::AppState;
use crate::error::AppError;
use crate::service::views::PayoutJson;

#[utoipa::path(get, path = "/api/v1/assets", tag = "reference", security(("bearer" = [])), responses((status = 200, description = "The organization's enabled assets", body = [api::AssetJson]), Denied))]
pub async fn assets(state: web::Data<AppState>, Api(caller): Api) -> ApiResult {
    ok(StatusCode::OK, &state.run(move |conn| api::assets(conn, &caller)).await?)
}

#[utoipa::path(get, path = "/api/v1/balances", tag = "reference", security(("bearer" = [])), responses((status = 200, description = "Available, reserved and paid per asset", body = [api::BalanceJson]), Denied))]
pub async fn balances(state: web::Data<AppState>, Api(caller): Api) -> ApiResult {
    ok(StatusCode::OK, &state.run(move |conn| api::balances(conn, &caller)).await?)
}

#[utoipa::path(post, path = "/api/v1/addresses/validate", tag = "reference", security(("bearer" = [])), request_body = api::ValidateRequest, responses((status = 200, description = "Whether the address is valid for the asset", body = api::ValidateResponse), Denied, Invalid))]
pub async fn validate_address(state: web::Data<AppState>, Api(caller): Api, body: web::Payload) -> ApiResult {
    let req: ValidateRequest = parse(&read_body(&state, body).await?)?;
    // Checksums (keccak, sha256) are CPU work: off the async workers like everything else.
    let answer = web::block(move || api::validate_address(&caller, &req))
        .await
        .map_err(|e| ApiError(AppError::Internal(format!("blocking task: {e}"))))??;
    ok(StatusCode::OK, &answer)
}

#[utoipa::path(post, path = "/api/v1/payouts/quote", tag = "payouts", security(("bearer" = [])), request_body = api::PayoutRequest, responses((status = 200, description = "Amounts, service fee, total debit, balance check and per-item errors", body = api::QuoteResponse), Denied, Invalid))]
pub async fn quote(state: web::Data<AppState>, Api(caller): Api, body: web::Payload) -> ApiResult {
    let req: PayoutRequest = parse(&read_body(&state, body).await?)?;
    let limits = state.config.registry_limits;
    let app = state.get_ref().clone();
    let quote = state
        .run(move |conn| {
            let mut quote = api::quote(conn, &caller, &req, &limits)?;
            // Claims have no address to send to yet.
            let addresses: Vec<&str> = req.items.iter().filter(|i| !i.claim).map(|i| i.address.trim()).collect();
            let creates = crate::service::access::org_settings::creates_token_accounts(conn, caller.actor.org_id)?;
            let estimate =
                crate::domain::asset::find(quote.asset).and_then(|a| app.network_fee(a, &addresses, creates));
            quote.network_fee = estimate
                .and_then(Result::ok)
                .map(|f| api::NetworkFeeQuote { asset: f.amount.asset().code, amount: f.amount.to_string() });
            Ok(quote)
        })
        .await?;
    ok(StatusCode::OK, &quote)
}

#[utoipa::path(post, path = "/api/v1/payouts", tag = "payouts", security(("bearer" = [])), params(("Idempotency-Key" = String, Header, description = "Required. The same key and body again returns the first answer; the same key with another body is refused (422). Kept 48 hours.")), request_body = api::PayoutRequest, responses((status = 201, description = "The payout, Pending when approval applies, else In progress", body = PayoutJson), Denied, Conflicting, Invalid))]
pub async fn create(state: web::Data<AppState>, req: HttpRequest, Api(caller): Api, body: web::Payload) -> ApiResult {
    let key = idempotency_key(&req);
    let payout: PayoutRequest = parse(&read_body(&state, body).await?)?;
    let limits = state.config.registry_limits;
    answered(state.run(move |conn| api::create(conn, &caller, &key, &payout, &limits)).await?)
}

#[utoipa::path(get, path = "/api/v1/payouts", tag = "payouts", security(("bearer" = [])), params(api::ListParams), responses((status = 200, description = "Newest first; pass next_cursor as cursor for the next page", body = api::ListResponse), Denied, Invalid))]
pub async fn list(state: web::Data<AppState>, Api(caller): Api, params: web::Query<ListParams>) -> ApiResult {
    let params = params.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::list(conn, &caller, &params)).await?)
}

#[utoipa::path(get, path = "/api/v1/claims", operation_id = "open_claims", tag = "payouts", security(("bearer" = [])), params(api::ClaimParams), responses((status = 200, description = "Claims waiting for their payees' addresses, by item id; pass the last item_id as after for the next page", body = [api::ClaimJson]), Denied, Invalid))]
pub async fn claims(state: web::Data<AppState>, Api(caller): Api, params: web::Query<api::ClaimParams>) -> ApiResult {
    let params = params.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::claims(conn, &caller, &params)).await?)
}

#[utoipa::path(get, path = "/api/v1/payouts/{id}", tag = "payouts", security(("bearer" = [])), params(("id" = i64, Path, description = "Payout id")), responses((status = 200, description = "The payout with its items", body = PayoutJson), Denied, Missing))]
pub async fn get(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::get(conn, &caller, id)).await?)
}

#[utoipa::path(post, path = "/api/v1/payouts/{id}/approve", tag = "approvals", security(("bearer" = [])), params(("id" = i64, Path, description = "Payout id"), ("X-OTP" = Option<String>, Header, description = "A current code from the authenticator of the key's user; required when the organization asks a fresh second factor for this payout (its step-up threshold, or every approval)")), responses((status = 200, description = "Approved; In progress once enough managers approved", body = PayoutJson), Denied, Missing, Conflicting, Invalid))]
pub async fn approve(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| api::approve(conn, &caller, id)).await?)
}

#[utoipa::path(post, path = "/api/v1/payouts/{id}/reject", tag = "approvals", security(("bearer" = [])), params(("id" = i64, Path, description = "Payout id"), ("X-OTP" = Option<String>, Header, description = "A current code from the authenticator of the key's user; required when the organization asks a fresh second factor for this payout (its step-up threshold, or every approval)")), request_body = api::ReasonRequest, responses((status = 200, description = "Rejected: cancelled, funds released", body = PayoutJson), Denied, Missing, Conflicting, Invalid))]
pub async fn reject(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>, body: web::Payload) -> ApiResult {
    let id = id.into_inner();
    let req: ReasonRequest = parse(&read_body(&state, body).await?)?;
    ok(StatusCode::OK, &state.run(move |conn| api::reject(conn, &caller, id, &req.reason)).await?)
}

#[utoipa::path(post, path = "/api/v1/payouts/{id}/cancel", tag = "payouts", security(("bearer" = [])), params(("id" = i64, Path, description = "Payout id")), request_body = api::ReasonRequest, responses((status = 200, description = "Cancelled before anything was sent; funds released", body = PayoutJson), Denied, Missing, Conflicting, Invalid))]
pub async fn cancel(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>, body: web::Payload) -> ApiResult {
    let id = id.into_inner();
    let req: ReasonRequest = parse(&read_body(&state, body).await?)?;
    ok(StatusCode::OK, &state.run(move |conn| api::cancel(conn, &caller, id, &req.reason)).await?)
}
