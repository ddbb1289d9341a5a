//! What is done with a mass payout once it ran: its results file, its failed rows as a new draft,
//! and the whole run repeated with each payee's current address.

use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::error::AppError;
use crate::service::payouts::repeat;
use crate::web::context::{Authed, FlashKind};
use crate::web::see_other_with_flash;

pub const PAGE_ROWS: usize = 100;

pub async fn repeat(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let payout_id = id.into_inner();
    let actor = authed.actor();
    match state.run(move |conn| repeat::repeat(conn, &actor, payout_id)).await {
        Ok(draft) => Ok(see_other_with_flash(
            &authed.ctx,
            &format!("/payouts/drafts/{}", draft.id),
            FlashKind::Success,
            "A new draft repeats this run with each payee's current address. What differs is listed above the rows.",
        )),
        Err(AppError::Conflict(m)) => {
            Ok(see_other_with_flash(&authed.ctx, &format!("/payouts/{payout_id}"), FlashKind::Error, &m))
        }
        Err(e) => Err(e),
    }
}

pub async fn retry_failed(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let payout_id = id.into_inner();
    let actor = authed.actor();
    match state.run(move |conn| repeat::from_failed_rows(conn, &actor, payout_id)).await {
        Ok(draft) => Ok(see_other_with_flash(
            &authed.ctx,
            &format!("/payouts/drafts/{}", draft.id),
            FlashKind::Success,
            "A new draft holds the failed rows. Check the addresses, then review and confirm.",
        )),
        Err(AppError::Conflict(m)) => {
            Ok(see_other_with_flash(&authed.ctx, &format!("/payouts/{payout_id}"), FlashKind::Error, &m))
        }
        Err(e) => Err(e),
    }
}

pub async fn results_csv(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let id = id.into_inner();
    let body = state.run(move |conn| crate::service::payouts::results_csv(conn, &actor, id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"payout-{id}-results.csv\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}
