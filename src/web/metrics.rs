//! `GET /metrics`: Prometheus' text format, for a bearer token (`--metrics-token`); without a
//! configured token the route does not exist (404).

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::AppError;
use crate::metrics::{Figure, metrics};

fn labels(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn set(figure: &Figure, pairs: &[(&'static str, &str)], value: f64) {
    figure.get_or_create(&labels(pairs)).set(value);
}

pub async fn scrape(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return Err(AppError::NotFound);
    };
    // The scheme's name is case-insensitive (RFC 9110), as on the API.
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token);
    if !given.is_some_and(|g| bool::from(g.trim().as_bytes().ct_eq(token.as_bytes()))) {
        return Ok(HttpResponse::build(StatusCode::UNAUTHORIZED)
            .insert_header((WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .body("A metrics token is needed: Authorization: Bearer TOKEN\n"));
    }
    let (rails, now, stuck_after) = (state.rails.clone(), state.clock.now(), state.config.stuck_after);
    let f = state.run(move |conn| crate::service::outbound::figures::figures(conn, &rails, now, stuck_after)).await?;
    let s = &metrics().scraped;
    s.rows_open.clear();
    for (status, n) in &f.rows_open {
        set(&s.rows_open, &[("status", status)], *n as f64);
    }
    s.oldest_pending_approval.set(f.oldest_pending_approval as f64);
    s.oldest_open_row.set(f.oldest_open_row as f64);
    s.stuck_rows.set(f.stuck_rows as f64);
    s.rows_held.set(f.rows_held as f64);
    s.sanctions_list_age.clear();
    for (list, age) in &f.sanctions_lists {
        set(&s.sanctions_list_age, &[("list", list)], *age as f64);
    }
    s.webhook_deliveries.clear();
    for status in ["pending", "failed"] {
        let n = f.webhook_deliveries.iter().find(|(k, _)| k == status).map_or(0, |(_, n)| *n);
        set(&s.webhook_deliveries, &[("status", status)], n as f64);
    }
    s.notifications.clear();
    for status in ["queued", "failed"] {
        let n = f.notifications.iter().find(|(k, _)| k == status).map_or(0, |(_, n)| *n);
        set(&s.notifications, &[("status", status)], n as f64);
    }
    s.hot_wallet.clear();
    for (asset, address, balance) in &f.hot_wallets {
        // A gauge is a float: fine for alerting on a low wallet, never used to move money.
        let value = balance.parse::<f64>().unwrap_or(f64::NAN);
        set(&s.hot_wallet, &[("asset", asset), ("address", address)], value);
    }
    let pool = state.pool.state();
    set(&s.pool, &[("state", "idle")], f64::from(pool.idle_connections));
    set(&s.pool, &[("state", "in_use")], f64::from(pool.connections - pool.idle_connections));
    set(&s.pool, &[("state", "max")], f64::from(state.pool.max_size()));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &metrics().registry)
        .map_err(|e| AppError::Internal(format!("encoding metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .body(text))
}
