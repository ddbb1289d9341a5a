//! "Add payees" in the mass payout editor: pick payees from the book (by name, external id or
//! tag); each becomes a row at the payee's approved address, with the external id as reference.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::payouts::draft_payees::{self, PayeeChoice};
use crate::web::context::{Authed, FlashKind};
use crate::web::layout::Layout;
use crate::web::{form_pairs, html, see_other_with_flash, values_of};

#[derive(Template)]
#[template(path = "pages/mass_payees.html")]
pub struct PickerTemplate {
    pub layout: Layout,
    pub draft_id: i64,
    pub purpose: String,
    pub code: &'static str,
    pub network: &'static str,
    pub q: String,
    pub choices: Vec<PayeeChoice>,
    pub amount: String,
    pub errors: FieldErrors,
}

#[derive(Deserialize, Default)]
pub struct PickerQuery {
    #[serde(default)]
    q: String,
}

async fn picker_page(
    state: &AppState,
    authed: &Authed,
    id: i64,
    q: String,
    amount: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let term: String = q.chars().take(200).collect();
    let t = term.clone();
    let (draft, asset, choices) = state.run(move |conn| draft_payees::payee_choices(conn, &actor, id, &t)).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(
        status,
        &PickerTemplate {
            layout: Layout::new(&authed.ctx, "/payouts"),
            draft_id: draft.id,
            purpose: draft.purpose,
            code: asset.code,
            network: asset.network,
            q: term,
            choices,
            amount,
            errors,
        },
    )
}

pub async fn picker(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    q: web::Query<PickerQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner().q;
    super::drafts::closed_draft_redirect(
        picker_page(&state, &authed, id.into_inner(), q, String::new(), FieldErrors::new()).await,
        &authed.ctx,
    )
}

/// The chosen payees (`payee` once per box ticked) and the amount for each.
pub async fn add(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let fields = form_pairs(&body)?;
    let amount: String = values_of(&fields, "amount").concat().chars().take(64).collect();
    let q: String = values_of(&fields, "q").concat();
    let ids: Vec<i64> = values_of(&fields, "payee").iter().filter_map(|v| v.trim().parse().ok()).collect();
    let actor = authed.actor();
    let limits = state.config.registry_limits;
    let a = amount.clone();
    match state.run(move |conn| draft_payees::add_payees(conn, &actor, id, &ids, &a, &limits)).await {
        Ok(done) => {
            let mut message =
                format!("Added {} from the payee book.", crate::domain::words::count(done.added, "row", "rows"));
            if !done.skipped.is_empty() {
                let mut names = done.skipped.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
                if done.skipped.len() > 10 {
                    names.push_str(&format!(" and {} more", done.skipped.len() - 10));
                }
                message.push_str(&format!(" Left out, without an approved address on this network: {names}."));
            }
            let kind = if done.skipped.is_empty() { FlashKind::Success } else { FlashKind::Error };
            Ok(see_other_with_flash(&authed.ctx, &format!("/payouts/drafts/{id}"), kind, &message))
        }
        Err(AppError::Validation(errors)) => picker_page(&state, &authed, id, q, amount, errors).await,
        Err(e) => super::drafts::closed_draft_redirect(Err(e), &authed.ctx),
    }
}
