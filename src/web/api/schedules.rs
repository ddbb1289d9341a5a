//! The JSON API v1's schedules: recurring pay days of a mass payout.

use actix_web::http::StatusCode;
use actix_web::web;
use serde::{Deserialize, Serialize};

use super::{Api, ApiResult, Conflicting, Denied, Invalid, Missing, ok, parse, read_small_body};
use crate::AppState;
use crate::db::DbConnection;
use crate::domain::account::Scope;
use crate::error::AppError;
use crate::service::access::api_keys::ApiCaller;
use crate::service::payouts::schedules;
use crate::service::views::rfc3339;

#[utoipa::path(get, path = "/api/v1/schedules", operation_id = "list_schedules", tag = "schedules", security(("bearer" = [])),
    responses((status = 200, description = "The organization's recurring pay days", body = [ScheduleJson]), Denied))]
pub async fn schedules(state: web::Data<AppState>, Api(caller): Api) -> ApiResult {
    ok(StatusCode::OK, &state.run(move |conn| list_json(conn, &caller)).await?)
}

#[utoipa::path(post, path = "/api/v1/schedules", operation_id = "create_schedule", tag = "schedules", security(("bearer" = [])), request_body = ScheduleRequest,
    responses((status = 201, description = "The schedule: a draft repeating the template is made days_before each pay day, for a person to confirm", body = ScheduleJson), Denied, Conflicting, Invalid))]
pub async fn create_schedule(state: web::Data<AppState>, Api(caller): Api, body: web::Payload) -> ApiResult {
    let req: ScheduleRequest = parse(&read_small_body(body).await?)?;
    ok(StatusCode::CREATED, &state.run(move |conn| create_json(conn, &caller, &req)).await?)
}

#[utoipa::path(post, path = "/api/v1/schedules/{id}/pause", operation_id = "pause_schedule", tag = "schedules", security(("bearer" = [])), params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 200, description = "Paused: no draft is made until resumed", body = ScheduleJson), Denied, Missing))]
pub async fn pause_schedule(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| set_active_json(conn, &caller, id, false)).await?)
}

#[utoipa::path(post, path = "/api/v1/schedules/{id}/resume", operation_id = "resume_schedule", tag = "schedules", security(("bearer" = [])), params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 200, description = "Active again from its next pay day after now", body = ScheduleJson), Denied, Missing))]
pub async fn resume_schedule(state: web::Data<AppState>, Api(caller): Api, id: web::Path<i64>) -> ApiResult {
    let id = id.into_inner();
    ok(StatusCode::OK, &state.run(move |conn| set_active_json(conn, &caller, id, true)).await?)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleJson {
    pub id: i64,
    pub name: String,
    /// The run each draft repeats: the latest confirmed from this schedule, or the first.
    pub template_payout_id: i64,
    pub day_of_month: i32,
    /// HH:MM in `time_zone`.
    pub time_of_day: String,
    pub time_zone: &'static str,
    pub days_before: i32,
    pub active: bool,
    /// RFC 3339 UTC.
    pub next_pay_at: String,
    pub next_draft_at: String,
    pub last_draft_id: Option<i64>,
    pub last_error: String,
}

fn schedule_json(v: &schedules::ScheduleView) -> ScheduleJson {
    let r = &v.row;
    ScheduleJson {
        id: r.id,
        name: r.name.clone(),
        template_payout_id: r.template_payout_id,
        day_of_month: r.day_of_month,
        time_of_day: r.time_of_day.clone(),
        time_zone: v.zone.name(),
        days_before: r.days_before,
        active: r.active,
        next_pay_at: rfc3339(r.next_pay_at),
        next_draft_at: rfc3339(r.next_draft_at),
        last_draft_id: r.last_draft_id,
        last_error: r.last_error.clone(),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "Monthly salaries", "template_payout_id": 42, "day_of_month": 25,
    "time_of_day": "09:00", "days_before": 3}))]
pub struct ScheduleRequest {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 100)]
    pub name: String,
    /// A completed or partially completed mass payout to repeat.
    #[serde(default)]
    #[schema(required = true, minimum = 1)]
    pub template_payout_id: i64,
    #[serde(default)]
    #[schema(required = true, minimum = 1, maximum = 31)]
    pub day_of_month: i64,
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub time_of_day: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 27)]
    pub days_before: i64,
}

fn list_json(conn: &mut DbConnection, caller: &ApiCaller) -> Result<Vec<ScheduleJson>, AppError> {
    caller.require(Scope::Read)?;
    Ok(schedules::list(conn, &caller.actor)?.1.iter().map(schedule_json).collect())
}

fn create_json(conn: &mut DbConnection, caller: &ApiCaller, req: &ScheduleRequest) -> Result<ScheduleJson, AppError> {
    caller.require(Scope::Create)?;
    let form = schedules::ScheduleForm {
        name: req.name.clone(),
        day_of_month: req.day_of_month.to_string(),
        time_of_day: req.time_of_day.clone(),
        days_before: req.days_before.to_string(),
    };
    let row = schedules::create(conn, &caller.actor, req.template_payout_id, &form)?;
    Ok(schedule_json(&schedules::get(conn, &caller.actor, row.id)?))
}

fn set_active_json(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    id: i64,
    active: bool,
) -> Result<ScheduleJson, AppError> {
    caller.require(Scope::Create)?;
    schedules::set_active(conn, &caller.actor, id, active)?;
    Ok(schedule_json(&schedules::get(conn, &caller.actor, id)?))
}
