//! The JSON API v1's notifications: the key owner's inbox.

use actix_web::http::StatusCode;
use actix_web::web;
use serde::{Deserialize, Serialize};

use super::{Api, ApiResult, Denied, ok};
use crate::AppState;
use crate::db::notices::NotificationRow;
use crate::domain::account::Scope;
use crate::service::outbound::inbox;
use crate::service::views::rfc3339;

#[derive(Serialize, utoipa::ToSchema)]
pub struct NotificationJson {
    pub id: i64,
    /// What it is about: approval_needed, approval_reminder, approved, rejected, completed, failed,
    /// partially_completed, needs_review, address_pending, draft_ready, gas_low, stuck,
    /// webhook_failing, security.
    pub kind: String,
    /// approvals, outcomes, operations or security.
    pub group: String,
    pub subject: String,
    pub body: String,
    /// The dashboard page it is about (a path).
    pub link: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub read_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NotificationList {
    /// Newest first, at most 50.
    pub notifications: Vec<NotificationJson>,
    pub unread: i64,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// Only notifications older than this id.
    #[serde(default)]
    pub before: Option<i64>,
}

fn json(n: NotificationRow) -> NotificationJson {
    NotificationJson {
        id: n.id,
        kind: n.kind,
        group: n.grp.as_str().to_owned(),
        subject: n.subject,
        body: n.body,
        link: n.link,
        created_at: rfc3339(n.created_at),
        read_at: n.read_at.map(rfc3339),
    }
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(NotificationParams), responses((status = 200, description = "The key owner's inbox, newest first", body = NotificationList), Denied))]
pub async fn list(state: web::Data<AppState>, Api(caller): Api, params: web::Query<NotificationParams>) -> ApiResult {
    let before = params.into_inner().before;
    let answer = state
        .run(move |conn| {
            caller.require(Scope::Read)?;
            let rows = inbox::list(conn, &caller.actor, before)?;
            let unread = inbox::unread(conn, caller.actor.user_id)?;
            let next_before = (rows.len() as i64 == inbox::PAGE).then(|| rows.last().map(|r| r.id)).flatten();
            Ok(NotificationList { notifications: rows.into_iter().map(json).collect(), unread, next_before })
        })
        .await?;
    ok(StatusCode::OK, &answer)
}
