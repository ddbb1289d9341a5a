//! A mass payout's review and its Confirm: what will be paid, the flags to acknowledge, the pay
//! day, and the payout it becomes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::rails::NetworkFee;
use crate::service::payouts;
use crate::service::payouts::drafts::{self, DraftView};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::{html, see_other_with_flash};

pub const PAGE_ROWS: usize = 100;

use super::drafts::*;

#[derive(Template)]
#[template(path = "pages/mass_review.html")]
pub struct ReviewTemplate {
    pub layout: Layout,
    pub v: DraftView,
    pub totals: Totals,
    pub lines: Vec<LineView>,
    pub errors: FieldErrors,
    /// The network's own fee, estimated, when a real chain pays this asset.
    pub network_fee: Option<Result<NetworkFee, String>>,
    /// Rows to an address never paid, or to a payee's changed address.
    pub flags: crate::service::payees::AddressFlags,
    pub pay_day: super::single::PayDayField,
    /// Whom to ask for a deposit when the balance falls short.
    pub admins: Vec<String>,
}

async fn review_page(
    state: &AppState,
    authed: &Authed,
    id: i64,
    errors: FieldErrors,
    status: StatusCode,
    typed: Option<String>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let app = state.clone();
    let (v, network_fee, flags, zone) = state
        .run(move |conn| {
            let v = drafts::view(conn, &actor, id)?;
            let addresses: Vec<&str> = v.checked.rows.iter().map(|r| r.address.as_str()).collect();
            let creates = crate::service::access::org_settings::creates_token_accounts(conn, actor.org_id)?;
            let fee = app.network_fee(v.checked.asset, &addresses, creates);
            let flags = v.flags.clone();
            let zone = crate::service::payouts::schedules::org_zone(conn, actor.org_id)?;
            Ok((v, fee, flags, zone))
        })
        .await?;
    let totals = totals(&v, false);
    let lines = line_views(&v).into_iter().filter(|l| l.has_problems()).collect();
    let layout = Layout::new(&authed.ctx, "/payouts");
    // A schedule's draft proposes its pay day while it is ahead.
    let proposed = v
        .draft
        .send_on
        .filter(|t| *t > authed.ctx.clock.now())
        .map(|t| zone.local(t).format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default();
    let pay_day = super::single::PayDayField::new(zone, typed.unwrap_or(proposed));
    let refused = !v.checked.over_limits.is_empty();
    let admins = if totals.sufficient && !refused { Vec::new() } else { super::admins_of(state, authed).await };
    html(status, &ReviewTemplate { layout, v, totals, lines, errors, network_fee, flags, pay_day, admins })
}

pub async fn review(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    closed_draft_redirect(
        review_page(&state, &authed, id.into_inner(), FieldErrors::new(), StatusCode::OK, None).await,
        &authed.ctx,
    )
}

/// The review's Confirm form: `acknowledge` (possible duplicates), `digest`, `send_on` (the pay
/// day, `YYYY-MM-DDTHH:MM` in the organization's time zone), `rate` (fiat-typed amounts' rate)
/// and one `acknowledge_lookalikes` per checked lookalike line, which a struct cannot gather.
pub async fn confirm(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = authed.actor();
    let fields = crate::web::form_pairs(&body)?;
    let field = |name: &str| crate::web::values_of(&fields, name).into_iter().next().unwrap_or_default();
    let (digest, send_on) = (field("digest"), field("send_on"));
    let reviewed_rate = crate::domain::fiat::Rate::parse(&field("rate")).ok();
    let typed: String = send_on.chars().take(32).collect();
    let acknowledged = !field("acknowledge").is_empty();
    let lookalikes: Vec<u64> =
        crate::web::values_of(&fields, "acknowledge_lookalikes").iter().filter_map(|v| v.trim().parse().ok()).collect();
    let org = actor.org_id;
    let zone = state.run(move |conn| crate::service::payouts::schedules::org_zone(conn, org)).await?;
    let scheduled_for = match payouts::parse_schedule(&send_on, zone, actor.now()) {
        Ok(s) => s,
        Err(e) => {
            let message = e.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" ");
            let errors = FieldErrors::form(message);
            return closed_draft_redirect(
                review_page(&state, &authed, id, errors, StatusCode::UNPROCESSABLE_ENTITY, Some(typed)).await,
                &authed.ctx,
            );
        }
    };
    match state
        .run(move |conn| {
            let confirmation = drafts::Confirmation {
                duplicates_acknowledged: acknowledged,
                lookalikes_acknowledged: lookalikes,
                digest,
                scheduled_for,
                reviewed_rate,
            };
            drafts::confirm(conn, &actor, id, confirmation)
        })
        .await
    {
        Ok(created) => {
            let message = if created.replayed {
                "This draft was already confirmed; here is its payout."
            } else if created.payout.status == crate::domain::payout::PayoutStatus::Pending {
                "Mass payout created. It waits for a manager's approval."
            } else if created.payout.scheduled_for.is_some() {
                "Mass payout confirmed for its pay day."
            } else {
                "Mass payout confirmed. It is being sent now."
            };
            Ok(see_other_with_flash(
                &authed.ctx,
                &format!("/payouts/{}", created.payout.id),
                FlashKind::Success,
                message,
            ))
        }
        Err(AppError::Validation(errors)) => {
            review_page(&state, &authed, id, errors, StatusCode::UNPROCESSABLE_ENTITY, Some(typed)).await
        }
        Err(AppError::Conflict(message))
            if message.starts_with("Insufficient")
                || message == payouts::CHANGED_SINCE_REVIEW
                || message == payouts::RATE_MOVED =>
        {
            review_page(&state, &authed, id, FieldErrors::form(message), StatusCode::CONFLICT, Some(typed)).await
        }
        Err(e) => closed_draft_redirect(Err(e), &authed.ctx),
    }
}
