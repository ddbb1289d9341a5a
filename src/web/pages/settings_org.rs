//! Settings → Assets, Fees and Balances (admins).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::db::ledger::EntryRow;
use crate::domain::asset::{ASSETS, Asset};
use crate::domain::fee::{FeeRule, FeeRuleInput};
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::service::access::org_settings;
use crate::service::access::users;
use crate::service::payouts::ledger::{self, BalanceLine, DepositForm};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::{form_pairs, html, see_other_with_flash, values_of};

#[derive(Template)]
#[template(path = "pages/settings_assets.html")]
pub struct AssetsPage {
    pub layout: Layout,
    pub assets: &'static [Asset],
    pub enabled: Vec<&'static str>,
    pub create_token_accounts: bool,
    pub errors: FieldErrors,
}

async fn assets_page(state: &AppState, authed: &Authed, errors: FieldErrors) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (enabled, create_token_accounts) = state
        .run(move |conn| {
            actor.require(crate::domain::account::Role::can_administer)?;
            Ok((
                org_settings::enabled_assets(conn, actor.org_id)?,
                org_settings::creates_token_accounts(conn, actor.org_id)?,
            ))
        })
        .await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(
        status,
        &AssetsPage {
            layout: Layout::new(&authed.ctx, "/settings"),
            assets: &ASSETS,
            enabled: enabled.iter().map(|a| a.code).collect(),
            create_token_accounts,
            errors,
        },
    )
}

pub async fn assets(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    assets_page(&state, &authed, FieldErrors::new()).await
}

/// The form repeats `asset` once per ticked box, which serde's form decoding cannot gather.
pub async fn save_assets(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let codes = values_of(&form_pairs(&body)?, "asset");
    let actor = authed.actor();
    match state.run(move |conn| org_settings::set_enabled_assets(conn, &actor, &codes)).await {
        Ok(()) => Ok(see_other_with_flash(&authed.ctx, "/settings/assets", FlashKind::Success, "Assets saved.")),
        Err(AppError::Validation(errors)) => assets_page(&state, &authed, errors).await,
        Err(e) => Err(e),
    }
}

/// Settings → Assets, Solana token accounts: `create` ticked or absent.
pub async fn save_token_accounts(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let create = values_of(&form_pairs(&body)?, "create").iter().any(|v| v == "on");
    let actor = authed.actor();
    state.run(move |conn| org_settings::set_create_token_accounts(conn, &actor, create)).await?;
    let told = if create {
        "Recipients without a Solana token account get one, its rent paid by the hot wallet."
    } else {
        "Rows to recipients without a Solana token account will fail unsent."
    };
    Ok(see_other_with_flash(&authed.ctx, "/settings/assets", FlashKind::Success, told))
}

/// One row of the fee table, with what was typed and its errors when it failed to save.
pub struct FeeRow {
    pub rule: FeeRule,
    pub input: FeeRuleInput,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "pages/settings_fees.html")]
pub struct FeesPage {
    pub layout: Layout,
    pub rows: Vec<FeeRow>,
}

fn input_of(rule: &FeeRule) -> FeeRuleInput {
    FeeRuleInput {
        percent: rule.percent.to_string(),
        fixed: rule.fixed.to_string(),
        min: rule.min.to_string(),
        max: rule.max.map(|m| m.to_string()).unwrap_or_default(),
    }
}

async fn fees_page(
    state: &AppState,
    authed: &Authed,
    failed: Option<(String, String, FeeRuleInput, FieldErrors)>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let schedule = state
        .run(move |conn| {
            actor.require(crate::domain::account::Role::can_administer)?;
            org_settings::fee_schedule(conn, actor.org_id)
        })
        .await?;
    let status = if failed.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let rows = schedule
        .all()
        .into_iter()
        .map(|rule| match &failed {
            Some((asset, op, input, errors)) if rule.asset.code == asset && rule.operation.as_str() == op => {
                FeeRow { rule, input: input.clone(), errors: errors.clone() }
            }
            _ => FeeRow { input: input_of(&rule), rule, errors: FieldErrors::new() },
        })
        .collect();
    html(status, &FeesPage { layout: Layout::new(&authed.ctx, "/settings"), rows })
}

pub async fn fees(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    fees_page(&state, &authed, None).await
}

pub async fn save_fee(
    state: web::Data<AppState>,
    authed: Authed,
    path: web::Path<(String, String)>,
    form: web::Form<FeeRuleInput>,
) -> Result<HttpResponse, AppError> {
    let (asset, operation) = path.into_inner();
    let input = form.into_inner();
    let actor = authed.actor();
    let (a, o, i) = (asset.clone(), operation.clone(), input.clone());
    match state.run(move |conn| org_settings::update_fee_rule(conn, &actor, &a, &o, &i)).await {
        Ok(rule) => {
            let message = format!("{} fee for {} saved.", rule.operation.label(), rule.asset.code);
            Ok(see_other_with_flash(&authed.ctx, "/settings/fees", FlashKind::Success, &message))
        }
        Err(AppError::Validation(errors)) => fees_page(&state, &authed, Some((asset, operation, input, errors))).await,
        Err(e) => Err(e),
    }
}

pub struct EntryView {
    pub entry: EntryRow,
    pub by: String,
    /// The amount as every page writes it.
    pub amount: String,
}

#[derive(Template)]
#[template(path = "pages/settings_balances.html")]
pub struct BalancesPage {
    pub layout: Layout,
    pub balances: Vec<BalanceLine>,
    pub assets: Vec<&'static Asset>,
    pub entries: Vec<EntryView>,
    pub form: DepositForm,
    pub errors: FieldErrors,
}

impl BalancesPage {
    fn held(&self) -> Vec<&BalanceLine> {
        self.balances.iter().filter(|l| !l.is_empty()).collect()
    }

    fn empty_assets(&self) -> Vec<&BalanceLine> {
        self.balances.iter().filter(|l| l.is_empty()).collect()
    }
}

async fn balances_page(
    state: &AppState,
    authed: &Authed,
    form: DepositForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (balances, assets, entries, people) = state
        .run(move |conn| {
            let people = users::list(conn, &actor)?;
            Ok((
                ledger::balance_sheet(conn, actor.org_id)?,
                org_settings::enabled_assets(conn, actor.org_id)?,
                ledger::recent_entries(conn, actor.org_id, 50)?,
                people,
            ))
        })
        .await?;
    let entries = entries
        .into_iter()
        .map(|entry| {
            let by = entry
                .created_by
                .and_then(|id| people.iter().find(|u| u.id == id))
                .map_or_else(|| "system".to_string(), |u| u.email.clone());
            let amount = crate::domain::asset::find(&entry.asset)
                .and_then(|a| Amount::parse_non_negative(a, &entry.amount).ok())
                .map_or_else(|| format!("{} {}", entry.amount, entry.asset), |a| a.money());
            EntryView { entry, by, amount }
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(
        status,
        &BalancesPage { layout: Layout::new(&authed.ctx, "/settings"), balances, assets, entries, form, errors },
    )
}

pub async fn balances(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    balances_page(&state, &authed, DepositForm::default(), FieldErrors::new()).await
}

pub async fn deposit(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<DepositForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let actor = authed.actor();
    let submitted = form.clone();
    match state.run(move |conn| ledger::deposit(conn, &actor, &submitted)).await {
        Ok(balance) => {
            let message = format!("Deposit recorded: {} now available.", balance.available.money());
            Ok(see_other_with_flash(&authed.ctx, "/settings/balances", FlashKind::Success, &message))
        }
        Err(AppError::Validation(errors)) => balances_page(&state, &authed, form, errors).await,
        Err(e) => Err(e),
    }
}

/// The empty registry with its header row, for spreadsheets.
pub async fn registry_template(_req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"payout-registry-template.csv\""))
        .body("address,amount,comment,reference\r\n")
}
