use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::outbound::DeliveryStatus;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, AuditQuery, AuditView};
use crate::service::access::users::{self, NewUserForm, UserView};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::{form_pairs, html, see_other, see_other_with_flash, values_of};

pub async fn index(authed: Authed) -> Result<HttpResponse, AppError> {
    authed.actor().require(Role::can_administer)?;
    Ok(see_other("/settings/users"))
}

#[derive(Template)]
#[template(path = "pages/settings_users.html")]
pub struct UsersPage {
    pub layout: Layout,
    pub users: Vec<UserView>,
    pub me: i64,
    pub roles: [Role; 4],
    pub form: NewUserForm,
    pub errors: FieldErrors,
    /// Open invitations, newest first.
    pub invitations: Vec<crate::db::invitations::InvitationRow>,
    pub invite: crate::service::access::invitations::InviteForm,
    pub invite_errors: FieldErrors,
    /// Whether invitations are emailed (else their link is shown once to the admin).
    pub mail: bool,
}

pub(super) struct UsersForms {
    pub form: NewUserForm,
    pub errors: FieldErrors,
    pub invite: crate::service::access::invitations::InviteForm,
    pub invite_errors: FieldErrors,
}

impl Default for UsersForms {
    fn default() -> Self {
        let role = Role::Accountant.as_str().to_owned();
        Self {
            form: NewUserForm { role: role.clone(), ..Default::default() },
            errors: FieldErrors::new(),
            invite: crate::service::access::invitations::InviteForm { role, ..Default::default() },
            invite_errors: FieldErrors::new(),
        }
    }
}

async fn users_page(
    state: &AppState,
    authed: &Authed,
    status: StatusCode,
    forms: UsersForms,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (list, invitations) = state
        .run(move |conn| Ok((users::list(conn, &actor)?, crate::service::access::invitations::pending(conn, &actor)?)))
        .await?;
    html(
        status,
        &UsersPage {
            layout: Layout::new(&authed.ctx, "/settings"),
            users: list,
            me: authed.user.user_id,
            roles: Role::ALL,
            form: forms.form,
            errors: forms.errors,
            invitations,
            invite: forms.invite,
            invite_errors: forms.invite_errors,
            mail: state.config.smtp.is_some(),
        },
    )
}

pub async fn users(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    users_page(&state, &authed, StatusCode::OK, UsersForms::default()).await
}

pub async fn add_user(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let actor = authed.actor();
    let submitted = form.clone();
    match state.run(move |conn| users::add(conn, &actor, &submitted)).await {
        Ok(user) => Ok(redirect_with_flash(&authed, &format!("Added {} as {}.", user.email, user.role))),
        Err(AppError::Validation(errors)) => {
            let kept = NewUserForm { password: String::new(), ..form };
            let forms = UsersForms { form: kept, errors, ..UsersForms::default() };
            users_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, forms).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn change_role(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, role) = (authed.actor(), id.into_inner(), form.into_inner().role);
    let user = state.run(move |conn| users::change_role(conn, &actor, id, &role)).await?;
    Ok(redirect_with_flash(&authed, &format!("{} is now {}.", user.email, user.role)))
}

pub async fn disable_user(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_disabled(state, authed, id.into_inner(), true).await
}

pub async fn enable_user(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_disabled(state, authed, id.into_inner(), false).await
}

async fn set_disabled(
    state: web::Data<AppState>,
    authed: Authed,
    id: i64,
    disabled: bool,
) -> Result<HttpResponse, AppError> {
    let actor: Actor = authed.actor();
    let user = state.run(move |conn| users::set_disabled(conn, &actor, id, disabled)).await?;
    let message = if user.disabled {
        format!("{} is disabled and signed out everywhere.", user.email)
    } else {
        format!("{} can sign in again.", user.email)
    };
    Ok(redirect_with_flash(&authed, &message))
}

pub async fn invite(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<crate::service::access::invitations::InviteForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (actor, notifier, submitted) = (authed.actor(), state.notifier(), form.clone());
    match state.run(move |conn| crate::service::outbound::links::invite(conn, &notifier, &actor, &submitted)).await {
        Ok(invited) => Ok(redirect_with_flash(&authed, &invited_message(&invited))),
        Err(AppError::Validation(invite_errors)) => {
            let forms = UsersForms { invite: form, invite_errors, ..UsersForms::default() };
            users_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, forms).await
        }
        Err(e) => Err(e),
    }
}

fn invited_message(invited: &crate::service::outbound::links::Invited) -> String {
    if invited.emailed {
        format!("Invited {}: the link is on its way by email and works for 72 hours.", invited.email)
    } else {
        format!(
            "Invited {}. This server sends no email: give them this link privately (once, 72 hours): {}",
            invited.email, invited.link
        )
    }
}

pub async fn invitation_action(
    state: web::Data<AppState>,
    authed: Authed,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let (actor, notifier) = (authed.actor(), state.notifier());
    match action.as_str() {
        "revoke" => {
            state.run(move |conn| crate::service::access::invitations::revoke(conn, &actor, id)).await?;
            Ok(redirect_with_flash(&authed, "The invitation is revoked; its link no longer works."))
        }
        "resend" => {
            let invited =
                state.run(move |conn| crate::service::outbound::links::resend(conn, &notifier, &actor, id)).await?;
            Ok(redirect_with_flash(&authed, &invited_message(&invited)))
        }
        _ => Err(AppError::NotFound),
    }
}

fn redirect_with_flash(authed: &Authed, message: &str) -> HttpResponse {
    see_other_with_flash(&authed.ctx, "/settings/users", FlashKind::Success, message)
}

#[derive(Template)]
#[template(path = "pages/settings_audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub entries: Vec<AuditView>,
    pub next_before: Option<i64>,
    pub query: AuditQuery,
    pub errors: FieldErrors,
    /// The filter's choices: the organization's people and the actions its trail holds.
    pub people: Vec<(i64, String)>,
    pub actions: Vec<String>,
}

impl AuditPage {
    fn older_link(&self, before: &i64) -> String {
        let filters = serde_urlencoded::to_string(&self.query).unwrap_or_default();
        format!("/settings/audit?{filters}&before={before}")
    }

    fn picked_actor(&self, id: &i64) -> bool {
        self.query.actor.trim() == id.to_string()
    }
}

/// Where an audited object is shown, when it has a page of its own.
pub fn object_link(e: &AuditView) -> Option<String> {
    let id = e.object_id.as_deref().filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()));
    Some(match (e.object_type.as_str(), id) {
        ("payout", Some(id)) => format!("/payouts/{id}"),
        ("payee", Some(id)) => format!("/payees/{id}"),
        ("schedule", _) => "/schedules".into(),
        ("user", _) => "/settings/users".into(),
        ("api_key", _) => "/settings/api-keys".into(),
        ("webhook_endpoint" | "webhook_delivery", _) => "/settings/webhooks".into(),
        ("fee_rule", _) => "/settings/fees".into(),
        ("asset", _) if e.action.starts_with("spend_limits") => "/settings/approvals#spend-limits".into(),
        ("asset", _) => "/settings/assets".into(),
        ("balance", _) => "/settings/balances".into(),
        ("organization", _) if e.action.starts_with("approval_policy") => "/settings/approvals".into(),
        ("organization", _) => "/settings/security".into(),
        _ => return None,
    })
}

#[derive(Deserialize)]
pub struct AuditPageQuery {
    before: Option<i64>,
    #[serde(flatten)]
    filters: AuditQuery,
}

pub async fn audit(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<AuditPageQuery>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let AuditPageQuery { before, filters } = query.into_inner();
    let q = filters.clone();
    let (listed, people, actions) = state
        .run(move |conn| {
            let listed = audit::list(conn, &actor, &q, before);
            let people = users::list(conn, &actor)?.into_iter().map(|u| (u.id, u.email)).collect();
            Ok((listed, people, audit::actions(conn, &actor)?))
        })
        .await?;
    let (entries, errors, status) = match listed {
        Ok(entries) => (entries, FieldErrors::new(), StatusCode::OK),
        Err(AppError::Validation(errors)) => (Vec::new(), errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => return Err(e),
    };
    let next_before = if entries.len() as i64 == audit::PAGE_SIZE { entries.last().map(|e| e.id) } else { None };
    let layout = Layout::new(&authed.ctx, "/settings");
    html(status, &AuditPage { layout, entries, next_before, query: filters, errors, people, actions })
}

pub struct KeyView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub user: String,
    pub scopes: String,
    pub created_at: chrono::NaiveDateTime,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "pages/settings_api_keys.html")]
pub struct ApiKeysPage {
    pub layout: Layout,
    pub keys: Vec<KeyView>,
    pub users: Vec<UserView>,
    pub new_key: Option<String>,
    pub errors: FieldErrors,
}

async fn api_keys_page(
    state: &AppState,
    authed: &Authed,
    new_key: Option<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (rows, people) = state
        .run(move |conn| Ok((crate::service::access::api_keys::list(conn, &actor)?, users::list(conn, &actor)?)))
        .await?;
    let keys = rows
        .into_iter()
        .map(|k| KeyView {
            user: people.iter().find(|u| u.id == k.user_id).map_or_else(|| "—".into(), |u| u.email.clone()),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let users = people.into_iter().filter(|u| !u.disabled).collect();
    html(status, &ApiKeysPage { layout: Layout::new(&authed.ctx, "/settings"), keys, users, new_key, errors })
}

pub async fn api_keys(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    api_keys_page(&state, &authed, None, FieldErrors::new()).await
}

/// Creates a key and shows it once, on this response only (never in a redirect or cookie).
pub async fn create_api_key(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let fields = form_pairs(&body)?;
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let name = get("name");
    let user_id: i64 = get("user_id").parse().unwrap_or(0);
    let scopes = values_of(&fields, "scopes");
    let actor = authed.actor();
    match state
        .run(move |conn| crate::service::access::api_keys::create_by_admin(conn, &actor, &name, user_id, &scopes))
        .await
    {
        Ok((_, key)) => api_keys_page(&state, &authed, Some(key), FieldErrors::new()).await,
        Err(AppError::Validation(errors)) => api_keys_page(&state, &authed, None, errors).await,
        Err(e) => Err(e),
    }
}

pub async fn revoke_api_key(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let id = id.into_inner();
    state.run(move |conn| crate::service::access::api_keys::revoke(conn, &actor, id)).await?;
    Ok(see_other_with_flash(&authed.ctx, "/settings/api-keys", FlashKind::Success, "Key revoked; it no longer works."))
}

#[derive(Template)]
#[template(path = "pages/settings_webhooks.html")]
pub struct WebhooksPage {
    pub layout: Layout,
    pub o: crate::service::outbound::webhooks::Overview,
    pub new_secret: Option<String>,
    pub errors: FieldErrors,
    pub event_types: &'static [&'static str],
}

async fn webhooks_page(
    state: &AppState,
    authed: &Authed,
    new_secret: Option<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let o = state.run(move |conn| crate::service::outbound::webhooks::overview(conn, &actor)).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let event_types = &crate::service::outbound::webhooks::EVENT_TYPES;
    html(status, &WebhooksPage { layout: Layout::new(&authed.ctx, "/settings"), o, new_secret, errors, event_types })
}

pub async fn webhooks(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    webhooks_page(&state, &authed, None, FieldErrors::new()).await
}

pub async fn add_webhook(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let fields = form_pairs(&body)?;
    let url = fields.iter().find(|(k, _)| k == "url").map(|(_, v)| v.clone()).unwrap_or_default();
    let events = values_of(&fields, "events");
    let actor = authed.actor();
    let policy = state.config.webhooks;
    match state
        .run(move |conn| crate::service::outbound::webhooks::add_endpoint(conn, &actor, &url, &events, &policy))
        .await
    {
        Ok((_, secret)) => webhooks_page(&state, &authed, Some(secret), FieldErrors::new()).await,
        Err(AppError::Validation(errors)) => webhooks_page(&state, &authed, None, errors).await,
        Err(e) => Err(e),
    }
}

pub async fn rotate_webhook(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let id = id.into_inner();
    let secret = state.run(move |conn| crate::service::outbound::webhooks::rotate_secret(conn, &actor, id)).await?;
    webhooks_page(&state, &authed, Some(secret), FieldErrors::new()).await
}

pub async fn enable_webhook(
    state: web::Data<AppState>,
    authed: Authed,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let enable = match action.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(AppError::NotFound),
    };
    let actor = authed.actor();
    state.run(move |conn| crate::service::outbound::webhooks::set_enabled(conn, &actor, id, enable)).await?;
    Ok(see_other_with_flash(
        &authed.ctx,
        "/settings/webhooks",
        FlashKind::Success,
        if enable { "Endpoint enabled." } else { "Endpoint disabled." },
    ))
}

pub async fn resend_webhook(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let id = id.into_inner();
    state.run(move |conn| crate::service::outbound::webhooks::resend(conn, &actor, id)).await?;
    Ok(see_other_with_flash(
        &authed.ctx,
        "/settings/webhooks",
        FlashKind::Success,
        "The delivery will be sent again shortly.",
    ))
}
