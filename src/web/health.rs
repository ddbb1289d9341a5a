use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::{AppState, db};

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
}

/// 200 when the database answers, 503 when it does not.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let reachable = state.run(|conn| Ok(db::ping(conn))).await.unwrap_or(false);
    let body = if reachable {
        Health { status: "ok", database: "reachable" }
    } else {
        Health { status: "degraded", database: "unreachable" }
    };
    let mut res = if reachable { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    res.insert_header(("Cache-Control", "no-store")).json(body)
}
