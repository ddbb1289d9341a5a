//! Payees: the recipient book, a payee's page with its addresses, and managers' decisions on
//! entered addresses.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::db::payees::PayeeRow;
use crate::domain::FieldErrors;
use crate::domain::asset::{ASSETS, Asset};
use crate::error::AppError;
use crate::service::payees::{self, PayeeDetails, PayeeForm, Period, Statement};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::{html, see_other_with_flash};

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    archived: String,
}

#[derive(Template)]
#[template(path = "pages/payees_list.html")]
pub struct ListTemplate {
    pub layout: Layout,
    pub payees: Vec<PayeeRow>,
    pub q: String,
    pub archived: bool,
    pub can_manage: bool,
    pub form: PayeeForm,
    pub errors: FieldErrors,
}

impl ListTemplate {
    /// The shared fields form posts a new payee here.
    pub fn payee_id(&self) -> Option<i64> {
        None
    }
}

async fn list_page(
    state: &AppState,
    authed: &Authed,
    status: StatusCode,
    query: ListQuery,
    form: PayeeForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let archived = !query.archived.is_empty();
    let term = query.q.clone();
    let found = state.run(move |conn| payees::list(conn, &actor, &term, archived)).await?;
    html(
        status,
        &ListTemplate {
            layout: Layout::new(&authed.ctx, "/payees"),
            payees: found,
            q: query.q.chars().take(200).collect(),
            archived,
            can_manage: payees::can_manage(authed.user.role),
            form,
            errors,
        },
    )
}

pub async fn list(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    list_page(&state, &authed, StatusCode::OK, query.into_inner(), PayeeForm::default(), FieldErrors::new()).await
}

pub async fn create(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<PayeeForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (actor, submitted) = (authed.actor(), form.clone());
    match state.run(move |conn| payees::create(conn, &actor, &submitted)).await {
        Ok(payee) => Ok(see_other_with_flash(
            &authed.ctx,
            &format!("/payees/{}", payee.id),
            FlashKind::Success,
            &format!("Added {}. Enter an address for each network you pay them on.", payee.name),
        )),
        Err(AppError::Validation(errors)) => {
            list_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, ListQuery::default(), form, errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "pages/payee_details.html")]
pub struct DetailsTemplate {
    pub layout: Layout,
    pub d: PayeeDetails,
    pub can_manage: bool,
    /// May pay them by claim (creates payouts).
    pub can_pay: bool,
    pub form: PayeeForm,
    pub errors: FieldErrors,
    pub address_form: AddressForm,
    pub assets: &'static [Asset],
    pub period: Period,
    pub statement: Statement,
    /// `from=…&to=…` of the period shown, for the CSV link.
    pub period_query: String,
}

impl DetailsTemplate {
    pub fn payee_id(&self) -> Option<i64> {
        Some(self.d.payee.id)
    }

    pub fn short(&self, hash: &str) -> String {
        crate::domain::asset::shorten(hash, 8, 6)
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct AddressForm {
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub address: String,
}

#[allow(clippy::too_many_arguments)]
async fn details_page(
    state: &AppState,
    authed: &Authed,
    id: i64,
    status: StatusCode,
    form: Option<PayeeForm>,
    address_form: AddressForm,
    mut errors: FieldErrors,
    period: Period,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let p = period.clone();
    let (d, statement) = state
        .run(move |conn| {
            let d = payees::details(conn, &actor, id)?;
            let s = payees::statement(conn, &actor, id, &p, payees::STATEMENT_PAGE_ROWS);
            Ok((d, s))
        })
        .await?;
    let statement = match statement {
        Ok(s) => s,
        Err(AppError::Validation(e)) => {
            for (field, m) in e.iter() {
                errors.add(field, m);
            }
            Statement { rows: vec![], totals: vec![], values: vec![], unvalued: 0, truncated: false }
        }
        Err(e) => return Err(e),
    };
    let period_query = serde_urlencoded::to_string(&period).unwrap_or_default();
    let form = form.unwrap_or_else(|| PayeeForm {
        name: d.payee.name.clone(),
        email: d.payee.email.clone(),
        external_id: d.payee.external_id.clone(),
        notes: d.payee.notes.clone(),
        tags: payees::tag_list(&d.payee.tags).join(", "),
    });
    html(
        status,
        &DetailsTemplate {
            layout: Layout::new(&authed.ctx, "/payees"),
            d,
            can_manage: payees::can_manage(authed.user.role),
            can_pay: authed.user.role.can_create_payouts(),
            form,
            errors,
            address_form,
            assets: &ASSETS,
            period,
            statement,
            period_query,
        },
    )
}

pub async fn details(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    period: web::Query<Period>,
) -> Result<HttpResponse, AppError> {
    let (id, period) = (id.into_inner(), period.into_inner());
    details_page(&state, &authed, id, StatusCode::OK, None, AddressForm::default(), FieldErrors::new(), period).await
}

pub async fn statement_csv(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    period: web::Query<Period>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, period) = (authed.actor(), id.into_inner(), period.into_inner());
    let body = state.run(move |conn| payees::statement_csv(conn, &actor, id, &period)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"payee-{id}-statement.csv\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

pub async fn update(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<PayeeForm>,
) -> Result<HttpResponse, AppError> {
    let (id, form) = (id.into_inner(), form.into_inner());
    let (actor, submitted) = (authed.actor(), form.clone());
    match state.run(move |conn| payees::update(conn, &actor, id, &submitted)).await {
        Ok(p) => Ok(see_other_with_flash(
            &authed.ctx,
            &format!("/payees/{id}"),
            FlashKind::Success,
            &format!("Saved {}.", p.name),
        )),
        Err(AppError::Validation(errors)) => {
            details_page(
                &state,
                &authed,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(form),
                AddressForm::default(),
                errors,
                Period::default(),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn enter_address(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<AddressForm>,
) -> Result<HttpResponse, AppError> {
    let (id, form) = (id.into_inner(), form.into_inner());
    let (actor, submitted) = (authed.actor(), form.clone());
    let result =
        state.run(move |conn| payees::enter_address(conn, &actor, id, &submitted.asset, &submitted.address)).await;
    match result {
        Ok(_) => Ok(see_other_with_flash(
            &authed.ctx,
            &format!("/payees/{id}"),
            FlashKind::Success,
            "Address entered. A manager other than you must approve it before it can be paid.",
        )),
        Err(AppError::Validation(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            details_page(&state, &authed, id, status, None, form, errors, Period::default()).await
        }
        Err(e) => Err(e),
    }
}

/// Invites the payee to their own page (a link by email, 72 hours).
pub async fn invite(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (id, actor, notifier) = (id.into_inner(), authed.actor(), state.notifier());
    let to = format!("/payees/{id}");
    match state.run(move |conn| crate::service::outbound::links::invite_payee(conn, &notifier, &actor, id)).await {
        Ok(linked) => {
            let message = if linked.emailed {
                format!(
                    "Invited {} to their page: the link is on its way by email and works once, for 72 hours.",
                    linked.email
                )
            } else {
                format!(
                    "This server sends no email: give {} this link privately (once, 72 hours): {}",
                    linked.email, linked.link
                )
            };
            Ok(see_other_with_flash(&authed.ctx, &to, FlashKind::Success, &message))
        }
        Err(AppError::Validation(e)) => Ok(see_other_with_flash(
            &authed.ctx,
            &to,
            FlashKind::Error,
            e.get("email").unwrap_or("The payee could not be invited."),
        )),
        Err(AppError::Conflict(m)) => Ok(see_other_with_flash(&authed.ctx, &to, FlashKind::Error, &m)),
        Err(e) => Err(e),
    }
}

pub async fn archive(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    set_archived(state, authed, id.into_inner(), true).await
}

pub async fn restore(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    set_archived(state, authed, id.into_inner(), false).await
}

async fn set_archived(
    state: web::Data<AppState>,
    authed: Authed,
    id: i64,
    archived: bool,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let p = state.run(move |conn| payees::set_archived(conn, &actor, id, archived)).await?;
    let message = if archived { format!("Archived {}.", p.name) } else { format!("Restored {}.", p.name) };
    Ok(see_other_with_flash(&authed.ctx, &format!("/payees/{id}"), FlashKind::Success, &message))
}

#[derive(Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    acknowledge_lookalike: Option<String>,
}

pub async fn approve_address(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    decide(state, authed, id.into_inner(), true, form.into_inner()).await
}

pub async fn reject_address(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    decide(state, authed, id.into_inner(), false, form.into_inner()).await
}

async fn decide(
    state: web::Data<AppState>,
    authed: Authed,
    id: i64,
    approve: bool,
    form: DecisionForm,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let acknowledged = form.acknowledge_lookalike.is_some();
    let result =
        state.run(move |conn| payees::decide_address(conn, &actor, id, approve, acknowledged, &form.reason)).await;
    let (kind, message) = match result {
        Ok(a) if approve && a.status == crate::domain::payee::AddressStatus::Pending => (
            FlashKind::Success,
            format!(
                "Approved {} once: it looks like a known address, so a second manager must approve it too.",
                a.address
            ),
        ),
        Ok(a) if approve => (
            FlashKind::Success,
            match a.payable_from {
                Some(t) => format!("Approved {}. It can be paid from {} UTC.", a.address, t.format("%Y-%m-%d %H:%M")),
                None => format!("Approved {}.", a.address),
            },
        ),
        Ok(a) => (FlashKind::Success, format!("Rejected {}.", a.address)),
        Err(AppError::Validation(errors)) => {
            (FlashKind::Error, errors.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" "))
        }
        Err(AppError::Conflict(m)) => (FlashKind::Error, m),
        Err(e) => return Err(e),
    };
    Ok(see_other_with_flash(&authed.ctx, "/approvals", kind, &message))
}

#[derive(Deserialize, Default)]
pub struct CoolingOffForm {
    #[serde(default)]
    cooling_off_hours: String,
}

pub async fn save_cooling_off(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<CoolingOffForm>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let hours = form.into_inner().cooling_off_hours;
    match state.run(move |conn| payees::set_cooling_off(conn, &actor, &hours)).await {
        Ok(minutes) => Ok(see_other_with_flash(
            &authed.ctx,
            "/settings/approvals",
            FlashKind::Success,
            &format!(
                "Approved payee addresses now wait {} before they can be paid.",
                payees::describe_minutes(minutes)
            ),
        )),
        Err(AppError::Validation(errors)) => super::approvals::policy_page(&state, &authed, errors).await,
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
pub struct ProofPolicyForm {
    #[serde(default)]
    allow_unproven: String,
}

/// Whether payees may submit addresses without a signature.
pub async fn save_proof_policy(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<ProofPolicyForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, allowed) = (authed.actor(), form.into_inner().allow_unproven == "yes");
    state.run(move |conn| crate::service::portal::proofs::set_skip_allowed(conn, &actor, allowed)).await?;
    let message = if allowed {
        "Payees may now submit an address without a signature; it is marked \"not proven\"."
    } else {
        "Payees must now prove each address they give with a signature from its wallet."
    };
    Ok(see_other_with_flash(&authed.ctx, "/settings/approvals", FlashKind::Success, message))
}

#[derive(Deserialize, Default)]
pub struct ReceiptsForm {
    #[serde(default)]
    receipts: String,
}

/// Whether payees get a receipt for each payment.
pub async fn save_receipts(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<ReceiptsForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, on) = (authed.actor(), form.into_inner().receipts == "yes");
    state.run(move |conn| crate::service::portal::proofs::set_receipts(conn, &actor, on)).await?;
    let message =
        if on { "Payees with an email now get a receipt for each payment." } else { "Payees no longer get receipts." };
    Ok(see_other_with_flash(&authed.ctx, "/settings/approvals", FlashKind::Success, message))
}

#[derive(Deserialize, Default)]
pub struct ClaimDaysForm {
    #[serde(default)]
    claim_days: String,
}

/// How many days payees have to answer a claim.
pub async fn save_claim_days(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<ClaimDaysForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, text) = (authed.actor(), form.into_inner().claim_days);
    let saved = state.run(move |conn| crate::service::payouts::claims::set_days(conn, &actor, &text)).await;
    match saved {
        Ok(days) => {
            let message =
                format!("Payees now have {} to claim.", crate::domain::words::count(days as usize, "day", "days"));
            Ok(see_other_with_flash(&authed.ctx, "/settings/approvals", FlashKind::Success, &message))
        }
        Err(AppError::Validation(errors)) => super::approvals::policy_page(&state, &authed, errors).await,
        Err(e) => Err(e),
    }
}

/// A CSV of payees (name, external_id, email, asset, address): all lines or none.
pub async fn import(
    state: web::Data<AppState>,
    authed: Authed,
    payload: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    let max = crate::service::payees::csv::MAX_IMPORT_BYTES as u64;
    let bytes = match super::drafts::read_file(payload, max).await {
        Ok(Some(b)) if !b.is_empty() => b,
        Ok(_) => {
            return Ok(see_other_with_flash(&authed.ctx, "/payees", FlashKind::Error, "Choose a CSV file to import."));
        }
        Err(AppError::Validation(e)) => {
            let message = e.get("file").unwrap_or("The upload could not be read.").to_owned();
            return Ok(see_other_with_flash(&authed.ctx, "/payees", FlashKind::Error, &message));
        }
        Err(e) => return Err(e),
    };
    let (actor, notifier) = (authed.actor(), state.notifier());
    let mails = notifier.mail;
    let imported = state
        .run(move |conn| {
            let done = crate::service::payees::csv::import(conn, &actor, &bytes)?;
            // The import is in; each invitation is its own (one that cannot go is counted). Without
            // email a link would have nowhere to go: they are invited from their pages then.
            let invited = done
                .to_invite
                .iter()
                .filter(|_| notifier.mail)
                .filter(|id| crate::service::outbound::links::invite_payee(conn, &notifier, &actor, **id).is_ok())
                .count();
            Ok((done, invited))
        })
        .await;
    match imported {
        Ok((done, invited)) => {
            let mut text = format!(
                "Imported: {} added, {} updated, {} address(es) entered; a manager other than you approves each address before it can be paid.",
                done.created, done.updated, done.addresses
            );
            if !done.to_invite.is_empty() {
                text.push_str(&format!(
                    " {} of {} invited to their own page{}.",
                    invited,
                    done.to_invite.len(),
                    if mails { " by email" } else { " (this server sends no email: invite them from their pages)" }
                ));
            }
            Ok(see_other_with_flash(&authed.ctx, "/payees", FlashKind::Success, &text))
        }
        Err(AppError::Validation(e)) => {
            let message = e.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ");
            Ok(see_other_with_flash(
                &authed.ctx,
                "/payees",
                FlashKind::Error,
                &format!("Nothing was imported. {message}"),
            ))
        }
        Err(e) => Err(e),
    }
}

pub async fn export(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let body = state.run(move |conn| crate::service::payees::csv::export(conn, &actor)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"payees.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}
