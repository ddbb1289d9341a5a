//! Approvals: the managers' queue, approve and reject, and the policy in Settings.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::asset::{ASSETS, Asset};
use crate::domain::spend_limit::{Limits, OverLimit};
use crate::error::AppError;
use crate::service::payouts::approvals::{self, Approved, Policy, QueueEntry};
use crate::web::context::{Authed, FlashKind};
use crate::web::layout::Layout;
use crate::web::{form_pairs, html, page, see_other_with_flash, values_of};

#[derive(Template)]
#[template(path = "pages/approvals.html")]
pub struct QueueTemplate {
    pub layout: Layout,
    pub entries: Vec<QueueEntry>,
    /// Payee addresses entered or changed, awaiting a manager.
    pub addresses: Vec<crate::service::payees::PendingAddress>,
    pub now: chrono::NaiveDateTime,
}

impl QueueTemplate {
    pub fn age(&self, at: &chrono::NaiveDateTime) -> String {
        let minutes = (self.now - *at).num_minutes().max(0);
        match minutes {
            0 => "just now".into(),
            m if m < 60 => format!("{m} min"),
            m if m < 48 * 60 => format!("{} h", m / 60),
            m => format!("{} days", m / (24 * 60)),
        }
    }
}

pub async fn queue(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (entries, addresses) = state
        .run(move |conn| Ok((approvals::queue(conn, &actor)?, crate::service::payees::pending(conn, &actor)?)))
        .await?;
    let now = state.clock.now();
    page(&QueueTemplate { layout: Layout::new(&authed.ctx, "/approvals"), entries, addresses, now })
}

/// Approves every ticked payout (`id` repeated), each on its own; says what happened to each.
pub async fn bulk_approve(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let ids: Vec<i64> = values_of(&form_pairs(&body)?, "id").iter().filter_map(|v| v.parse().ok()).collect();
    if ids.is_empty() {
        return Ok(see_other_with_flash(&authed.ctx, "/approvals", FlashKind::Error, "Tick the payouts to approve."));
    }
    let actor = authed.actor();
    let results = state
        .run(move |conn| {
            Ok(ids.into_iter().map(|id| (id, approvals::approve(conn, &actor, id, ""))).collect::<Vec<_>>())
        })
        .await?;
    let started = results.iter().filter(|(_, r)| matches!(r, Ok(Approved::Started))).count();
    let waiting = results.iter().filter(|(_, r)| matches!(r, Ok(Approved::Waiting(..)))).count();
    let failed: Vec<String> =
        results.iter().filter_map(|(id, r)| r.as_ref().err().map(|e| format!("#{id}: {e}"))).collect();
    let mut message = format!("Approved {}", crate::domain::words::count(started, "payout", "payouts"));
    if waiting > 0 {
        message.push_str(&format!("; {waiting} wait for another manager"));
    }
    if !failed.is_empty() {
        message.push_str(&format!("; not approved: {}", failed.join(" ")));
    }
    let kind = if failed.is_empty() { FlashKind::Success } else { FlashKind::Error };
    Ok(see_other_with_flash(&authed.ctx, "/approvals", kind, &format!("{message}.")))
}

#[derive(Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    digest: String,
}

pub async fn approve(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<ApproveForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = authed.actor();
    let digest = form.into_inner().digest;
    let location = format!("/payouts/{id}");
    match state.run(move |conn| approvals::approve(conn, &actor, id, &digest)).await {
        Ok(Approved::Started) => {
            Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Success, "Approved. The payout is being sent."))
        }
        Ok(Approved::Waiting(given, needed)) => Ok(see_other_with_flash(
            &authed.ctx,
            &location,
            FlashKind::Success,
            &format!("Approved ({given} of {needed}). It waits for another manager."),
        )),
        Err(AppError::Conflict(m)) => Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &m)),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    reason: String,
}

pub async fn reject(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<RejectForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = authed.actor();
    let reason = form.into_inner().reason;
    let location = format!("/payouts/{id}");
    match state.run(move |conn| approvals::reject(conn, &actor, id, &reason)).await {
        Ok(()) => Ok(see_other_with_flash(
            &authed.ctx,
            &location,
            FlashKind::Success,
            "Rejected. The funds are available again.",
        )),
        Err(AppError::Validation(e)) => {
            let m = e.get("reason").unwrap_or("Say why the payout is rejected.").to_owned();
            Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &m))
        }
        Err(AppError::Conflict(m)) => Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &m)),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "pages/settings_approvals.html")]
pub struct PolicyTemplate {
    pub layout: Layout,
    pub policy: Policy,
    pub assets: &'static [Asset],
    pub errors: FieldErrors,
    /// How long an approved payee address waits before it can be paid.
    pub cooling_off_hours: String,
    pub limits: Vec<(&'static Asset, Limits)>,
    pub zone: &'static str,
    /// Payees may submit an address on their own page without a signature.
    pub payees_may_skip_proof: bool,
    /// Payees with an email get a receipt for each payment.
    pub payee_receipts: bool,
    /// Days a payee has to answer a claim.
    pub claim_days: i32,
}

impl PolicyTemplate {
    pub fn limit(&self, kind: &str, code: &str) -> String {
        let Some((_, l)) = self.limits.iter().find(|(a, _)| a.code == code) else { return String::new() };
        let value = match kind {
            "payout" => l.per_payout,
            "day" => l.per_day,
            _ => l.per_month,
        };
        value.map(|v| v.to_string()).unwrap_or_default()
    }

    pub fn over_approves(&self, code: &str) -> bool {
        self.limits.iter().any(|(a, l)| a.code == code && l.over_limit == OverLimit::Approve)
    }

    pub fn threshold(&self, code: &str) -> String {
        self.policy.thresholds.iter().find(|(a, _)| a.code == code).map(|(_, t)| t.to_string()).unwrap_or_default()
    }
}

pub(crate) async fn policy_page(
    state: &AppState,
    authed: &Authed,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (policy, org, limits, zone) = state
        .run(move |conn| {
            actor.require(crate::domain::account::Role::can_administer)?;
            let org = crate::db::orgs::find(conn, actor.org_id)?;
            let limits = crate::service::payouts::limits::all_limits(conn, actor.org_id)?;
            let zone = crate::service::payouts::schedules::org_zone(conn, actor.org_id)?.name();
            Ok((approvals::policy(conn, actor.org_id)?, org, limits, zone))
        })
        .await?;
    let minutes = org.payee_cooling_off_minutes;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let hours = rust_decimal::Decimal::from(minutes) / rust_decimal::Decimal::from(60);
    let cooling_off_hours = hours.round_dp(2).normalize().to_string();
    let layout = Layout::new(&authed.ctx, "/settings");
    let (payees_may_skip_proof, payee_receipts) = (org.payees_may_skip_proof, org.payee_receipts);
    let page = PolicyTemplate {
        layout,
        policy,
        assets: &ASSETS,
        errors,
        cooling_off_hours,
        limits,
        zone,
        payees_may_skip_proof,
        payee_receipts,
        claim_days: org.claim_days,
    };
    html(status, &page)
}

pub async fn policy(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    policy_page(&state, &authed, FieldErrors::new()).await
}

pub async fn save_limits(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let fields = form_pairs(&body)?;
    let actor = authed.actor();
    match state.run(move |conn| crate::service::payouts::limits::set_limits(conn, &actor, &fields)).await {
        Ok(()) => Ok(see_other_with_flash(
            &authed.ctx,
            "/settings/approvals#spend-limits",
            FlashKind::Success,
            "Spend limits saved. They apply to payouts created from now on.",
        )),
        Err(AppError::Validation(errors)) => policy_page(&state, &authed, errors).await,
        Err(e) => Err(e),
    }
}

pub async fn save_policy(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let fields = form_pairs(&body)?;
    let actor = authed.actor();
    match state.run(move |conn| approvals::set_policy(conn, &actor, &fields)).await {
        Ok(_) => Ok(see_other_with_flash(
            &authed.ctx,
            "/settings/approvals",
            FlashKind::Success,
            "Approval policy saved. It applies to payouts created from now on.",
        )),
        Err(AppError::Validation(errors)) => policy_page(&state, &authed, errors).await,
        Err(e) => Err(e),
    }
}
