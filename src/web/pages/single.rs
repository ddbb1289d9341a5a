//! A single payout: choosing the kind, the form with its live field checks, the review, and
//! Confirm.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::crypto;
use crate::domain::asset::Asset;
use crate::domain::payout::PayoutStatus;
use crate::domain::registry::check_payout_amount;
use crate::domain::{Address, FieldErrors};
use crate::error::AppError;
use crate::rails::NetworkFee;
use crate::service::access::Actor;
use crate::service::access::org_settings;
use crate::service::payees::AddressFlags;
use crate::service::payouts::{self, Draft, SinglePayoutForm};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::{html, page, see_other_with_flash};

#[derive(Template)]
#[template(path = "pages/payout_new.html")]
pub struct NewTemplate {
    pub layout: Layout,
}

pub async fn new(authed: Authed) -> Result<HttpResponse, AppError> {
    authed.actor().require(crate::domain::account::Role::can_create_payouts)?;
    page(&NewTemplate { layout: Layout::new(&authed.ctx, "/payouts") })
}

#[derive(Template)]
#[template(path = "pages/payout_single.html")]
pub struct SingleTemplate {
    pub layout: Layout,
    pub form: SinglePayoutForm,
    pub errors: FieldErrors,
    pub assets: Vec<&'static Asset>,
    /// What the enabled assets have available now (those above zero), shown before the review.
    pub available: Vec<crate::domain::Amount>,
    pub admins: Vec<String>,
    /// The organization's reporting currency, in which an amount may be typed instead.
    pub reporting: &'static str,
    /// Enabled assets with no current rate in the reporting currency: amounts for them cannot
    /// be typed in it, and the form says so before the review.
    pub unpriced: Vec<&'static str>,
    /// A claim: the payee who gives the address.
    pub claim: Option<payouts::ClaimFor>,
}

/// The enabled assets without a current rate in the organization's reporting currency.
fn unpriced(
    conn: &mut crate::db::DbConnection,
    org_id: i64,
    assets: &[&'static Asset],
    at: chrono::NaiveDateTime,
) -> Result<Vec<&'static str>, AppError> {
    let reporting = crate::service::valuation::rates::reporting(conn, org_id)?;
    let mut none = Vec::new();
    for a in assets {
        if crate::service::valuation::rates::rate_now(conn, org_id, a, &reporting, at)?.current().is_none() {
            none.push(a.code);
        }
    }
    Ok(none)
}

async fn single_form(
    state: &AppState,
    authed: &Authed,
    form: SinglePayoutForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    actor.require(crate::domain::account::Role::can_create_payouts)?;
    let now = state.clock.now();
    let f = form.clone();
    let (assets, available, reporting, unpriced, claim) = state
        .run(move |conn| {
            let claim = payouts::claim_for(conn, &actor, &f)?;
            let reporting = crate::service::valuation::rates::reporting(conn, actor.org_id)?.currency.code;
            let assets = org_settings::enabled_assets(conn, actor.org_id)?;
            let unpriced = unpriced(conn, actor.org_id, &assets, now)?;
            let available: Vec<crate::domain::Amount> =
                crate::service::payouts::ledger::balance_sheet(conn, actor.org_id)?
                    .into_iter()
                    .filter(|l| assets.iter().any(|a| a.code == l.asset().code))
                    .map(|l| l.balance.available)
                    .filter(|a| !a.is_zero())
                    .collect();
            Ok((assets, available, reporting, unpriced, claim))
        })
        .await?;
    let admins = if available.is_empty() { super::admins_of(state, authed).await } else { Vec::new() };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let layout = Layout::new(&authed.ctx, "/payouts");
    html(status, &SingleTemplate { layout, form, errors, assets, available, admins, reporting, unpriced, claim })
}

/// The form, filled with the query's values when coming back from the review ("Edit").
pub async fn single(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Query<SinglePayoutForm>,
) -> Result<HttpResponse, AppError> {
    single_form(&state, &authed, form.into_inner(), FieldErrors::new()).await
}

#[derive(Deserialize)]
pub struct CheckForm {
    field: String,
    #[serde(flatten)]
    form: SinglePayoutForm,
}

#[derive(Template)]
#[template(path = "partials/field_feedback.html")]
pub struct FieldFeedback {
    pub id: String,
    pub error: Option<String>,
    pub notes: Vec<String>,
}

/// The htmx check of one field as the user leaves it: the same domain rules as the submit.
pub async fn check_field(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<CheckForm>,
) -> Result<HttpResponse, AppError> {
    let CheckForm { field, form } = form.into_inner();
    let actor = authed.actor();
    let code = form.asset.clone();
    let now = state.clock.now();
    let (asset, reporting, unpriced) = state
        .run(move |conn| {
            let asset = org_settings::enabled_assets(conn, actor.org_id)?.into_iter().find(|a| a.code == code);
            let unpriced = match asset {
                Some(a) => unpriced(conn, actor.org_id, &[a], now)?,
                None => Vec::new(),
            };
            Ok((asset, crate::service::valuation::rates::reporting(conn, actor.org_id)?.currency, unpriced))
        })
        .await?;
    let in_fiat = form.amount_in.trim().eq_ignore_ascii_case(reporting.code);
    let (mut error, mut notes) = match (field.as_str(), asset) {
        ("amount", Some(a)) if in_fiat && !unpriced.is_empty() => (
            Some(format!(
                "There is no current {} rate in {}: type the amount in {}, or ask an admin to record a rate \
                 (Settings → Rates).",
                a.code, reporting.code, a.code
            )),
            vec![],
        ),
        ("amount", _) if in_fiat && !form.amount.trim().is_empty() => {
            match crate::domain::fiat::Fiat::parse(&form.amount, reporting) {
                Ok(f) => (None, vec![format!("{} — converted at the current rate on the review", f.money())]),
                Err(e) => (Some(e), vec![]),
            }
        }
        (_, None) => (Some("Choose the payout currency first.".to_string()), vec![]),
        ("address", Some(asset)) if !form.address.trim().is_empty() => match Address::parse(asset, &form.address) {
            Ok(a) => (
                None,
                std::iter::once(format!("Valid {} address on {}.", asset.code, asset.network))
                    .chain(a.warnings)
                    .collect(),
            ),
            Err(e) => (Some(e), vec![]),
        },
        ("amount", Some(asset)) if !form.amount.trim().is_empty() => match check_payout_amount(asset, &form.amount) {
            Ok(a) => (None, vec![a.money()]),
            Err(e) => (Some(e), vec![]),
        },
        _ => (None, vec![]),
    };
    // A valid address is screened and compared with the known ones as the review would: a
    // listed one is refused at once, a lookalike said before anyone reaches the review.
    if field == "address"
        && error.is_none()
        && let Some(asset) = asset
        && let Ok(parsed) = Address::parse(asset, &form.address)
    {
        let (address, org_id) = (parsed.value, authed.user.org_id);
        let (listed, lookalikes) = state
            .run(move |conn| {
                let listed = crate::service::compliance::listed(conn, &[address.as_str()])?;
                let lookalikes = crate::service::payees::lookalike::find(conn, org_id, &[(0, address.as_str())])?;
                Ok((listed, lookalikes))
            })
            .await?;
        if let Some(hit) = listed.into_iter().next().flatten() {
            (error, notes) = (Some(hit.message()), vec![]);
        } else if let Some(l) = lookalikes.first() {
            notes = vec![format!(
                "Careful: this address looks like a known one but is another. {} Check it with the recipient by \
                 another channel; the review asks you to confirm it.",
                l.sentence()
            )];
        }
    }
    let id = match field.as_str() {
        "address" => "address-feedback",
        _ => "amount-feedback",
    };
    page(&FieldFeedback { id: id.into(), error, notes })
}

#[derive(Template)]
#[template(path = "pages/payout_review.html")]
pub struct ReviewTemplate {
    pub layout: Layout,
    pub form: SinglePayoutForm,
    pub draft: Draft,
    pub token: String,
    pub edit_query: String,
    pub error: Option<String>,
    /// The network's own fee, estimated, when a real chain pays this asset.
    pub network_fee: Option<Result<NetworkFee, String>>,
    /// First payment to this address, or a payee's changed address.
    pub flags: AddressFlags,
    pub pay_day: PayDayField,
    /// Whom to ask for a deposit when the balance falls short.
    pub admins: Vec<String>,
    /// Lookalike rows confirmed without their acknowledgement.
    pub lookalike_errors: FieldErrors,
    /// A claim: the payee who gives the address.
    pub claim: Option<payouts::ClaimFor>,
}

/// The review pages' pay day field: typed in the organization's time zone.
pub struct PayDayField {
    pub zone: &'static str,
    /// What the field holds: as typed, or the pay day a schedule proposes.
    pub value: String,
}

impl PayDayField {
    pub fn new(zone: crate::domain::zone::Zone, value: String) -> Self {
        Self { zone: zone.name(), value }
    }
}

/// What the review page shows beside the draft.
type Reviewed = (SinglePayoutForm, Draft, Option<Result<NetworkFee, String>>, AddressFlags);

async fn review(
    state: &AppState,
    authed: &Authed,
    (form, draft, network_fee, flags): Reviewed,
    token: String,
    error: Option<String>,
    pay_day: PayDayField,
    lookalike_errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let status = if !lookalike_errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let edit_query = serde_urlencoded::to_string(&form).unwrap_or_default();
    let ask = draft.quote.sufficient == Some(false) || !draft.over_limits.is_empty();
    let admins = if ask { super::admins_of(state, authed).await } else { Vec::new() };
    let (actor, f) = (authed.actor(), form.clone());
    let claim = state.run(move |conn| payouts::claim_for(conn, &actor, &f)).await?;
    let layout = Layout::new(&authed.ctx, "/payouts");
    let page = ReviewTemplate {
        layout,
        form,
        draft,
        token,
        edit_query,
        error,
        network_fee,
        flags,
        pay_day,
        admins,
        lookalike_errors,
        claim,
    };
    html(status, &page)
}

/// Form → review: nothing is stored; the review states exactly what Confirm will do.
pub async fn single_review(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<SinglePayoutForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let actor = authed.actor();
    let f = form.clone();
    let app = state.get_ref().clone();
    let checked = state
        .run(move |conn| {
            let draft = payouts::check_single(conn, &actor, &f)?;
            let creates = crate::service::access::org_settings::creates_token_accounts(conn, actor.org_id)?;
            // A claim has no address to estimate a transfer to yet.
            let to = draft.rows.first().filter(|r| r.claim_for.is_none());
            let fee = to.and_then(|r| app.network_fee(draft.asset, &[r.address.as_str()], creates));
            let flags = single_flags(conn, &actor, &draft)?;
            let zone = crate::service::payouts::schedules::org_zone(conn, actor.org_id)?;
            Ok((draft, fee, flags, zone))
        })
        .await;
    match checked {
        Ok((draft, fee, flags, zone)) => {
            let pay_day = PayDayField::new(zone, String::new());
            review(
                &state,
                &authed,
                (form, draft, fee, flags),
                crypto::random_hex(32),
                None,
                pay_day,
                FieldErrors::new(),
            )
            .await
        }
        Err(AppError::Validation(errors)) => single_form(&state, &authed, form, errors).await,
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
    /// The digest of what the review page showed.
    #[serde(default)]
    digest: String,
    /// The pay day, `YYYY-MM-DDTHH:MM` in the organization's time zone; empty to send now.
    #[serde(default)]
    send_on: String,
    /// Ticked when the person checked a lookalike address with its recipient (the one row is
    /// line 1).
    #[serde(default)]
    acknowledge_lookalikes: String,
    #[serde(flatten)]
    form: SinglePayoutForm,
}

/// Review → stored payout. The review's one-time token makes a repeated confirm (double click,
/// back button, resubmit) find the first payout instead of creating another.
pub async fn single_confirm(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let ConfirmForm { token, digest, send_on, acknowledge_lookalikes, form } = form.into_inner();
    let acknowledged: Vec<u64> = if acknowledge_lookalikes.is_empty() { Vec::new() } else { vec![1] };
    let typed_send_on: String = send_on.chars().take(32).collect();
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) || digest.is_empty() {
        let errors = FieldErrors::form("The review expired; check the payout and review it again.");
        return single_form(&state, &authed, form, errors).await;
    }
    let actor: Actor = authed.actor();
    let (f, t) = (form.clone(), token.clone());
    let result = state
        .run(move |conn| {
            let draft = payouts::check_single(conn, &actor, &f)?;
            let zone = crate::service::payouts::schedules::org_zone(conn, actor.org_id)?;
            let draft = match payouts::parse_schedule(&send_on, zone, actor.now()) {
                Ok(scheduled_for) => Draft { scheduled_for, acknowledged_lookalikes: acknowledged, ..draft },
                Err(e) => {
                    let flags = single_flags(conn, &actor, &draft)?;
                    let message = e.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" ");
                    return Ok(Err((draft, flags, Some(message), zone, FieldErrors::new())));
                }
            };
            match payouts::create_reviewed(conn, &actor, &draft, &t, &digest) {
                Ok(created) => Ok(Ok(created)),
                Err(AppError::Conflict(message)) => {
                    // Typed in fiat: the review is shown again converted at the rate of now
                    // (or the form says there is none).
                    let draft = match draft.fiat {
                        Some(_) => Draft {
                            scheduled_for: draft.scheduled_for,
                            ..payouts::check_single(conn, &actor, &SinglePayoutForm { rate: String::new(), ..f })?
                        },
                        None => draft,
                    };
                    let flags = single_flags(conn, &actor, &draft)?;
                    Ok(Err((draft, flags, Some(message), zone, FieldErrors::new())))
                }
                Err(AppError::Validation(errors)) if errors.get(payouts::ACKNOWLEDGE_LOOKALIKES).is_some() => {
                    let flags = single_flags(conn, &actor, &draft)?;
                    Ok(Err((draft, flags, None, zone, errors)))
                }
                Err(e) => Err(e),
            }
        })
        .await;
    match result {
        Ok(Ok(created)) => {
            let status = created.payout.status;
            let message = match (created.replayed, status) {
                (true, _) => "This payout was already confirmed; here it is.".to_string(),
                (false, PayoutStatus::Pending) => "Payout created. It waits for a manager's approval.".to_string(),
                (false, _) if created.payout.scheduled_for.is_some() => "Payout confirmed for its pay day.".to_string(),
                (false, _) => "Payout confirmed. It is being sent now.".to_string(),
            };
            Ok(see_other_with_flash(
                &authed.ctx,
                &format!("/payouts/{}", created.payout.id),
                FlashKind::Success,
                &message,
            ))
        }
        Ok(Err((draft, flags, message, zone, lookalike_errors))) => {
            let pay_day = PayDayField::new(zone, typed_send_on);
            review(&state, &authed, (form, draft, None, flags), token, message, pay_day, lookalike_errors).await
        }
        Err(AppError::Validation(errors)) => single_form(&state, &authed, form, errors).await,
        Err(e) => Err(e),
    }
}

fn single_flags(conn: &mut crate::db::DbConnection, actor: &Actor, draft: &Draft) -> Result<AddressFlags, AppError> {
    let rows: Vec<(u64, &str)> =
        draft.rows.iter().filter(|r| r.claim_for.is_none()).map(|r| (r.line, r.address.as_str())).collect();
    crate::service::payees::address_flags(conn, actor, draft.asset, &rows)
}
