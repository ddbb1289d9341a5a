//! Settings → Security: who must have a second factor, when a fresh one is asked, who has
//! which factor, and an admin's reset of a user's factors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::asset::{ASSETS, Asset};
use crate::error::AppError;
use crate::service::access::second_factor::{self, Factors, SecurityPolicy};
use crate::service::access::users::{self, UserView};
use crate::web::context::{Authed, FlashKind};
use crate::web::layout::Layout;
use crate::web::{form_pairs, html, see_other_with_flash};

#[derive(Template)]
#[template(path = "pages/settings_security.html")]
pub struct SecurityTemplate {
    pub layout: Layout,
    pub policy: SecurityPolicy,
    pub assets: &'static [Asset],
    pub errors: FieldErrors,
    pub users: Vec<(UserView, Factors)>,
    pub me: i64,
}

impl SecurityTemplate {
    pub fn threshold(&self, code: &str) -> String {
        self.policy.thresholds.iter().find(|(a, _)| a.code == code).map(|(_, t)| t.to_string()).unwrap_or_default()
    }

    pub fn required(&self, role: &Role) -> bool {
        self.policy.factors.requires(*role)
    }
}

async fn security_page(state: &AppState, authed: &Authed, errors: FieldErrors) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (policy, list, factors) = state
        .run(move |conn| {
            actor.require(Role::can_administer)?;
            let policy = second_factor::policy(conn, actor.org_id)?;
            Ok((policy, users::list(conn, &actor)?, second_factor::factors_in_org(conn, &actor)?))
        })
        .await?;
    let users = list
        .into_iter()
        .map(|u| {
            let f = factors.iter().find(|(id, _)| *id == u.id).map(|(_, f)| f.clone()).unwrap_or_default();
            (u, f)
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let layout = Layout::new(&authed.ctx, "/settings");
    html(status, &SecurityTemplate { layout, policy, assets: &ASSETS, errors, users, me: authed.user.user_id })
}

pub async fn show(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    security_page(&state, &authed, FieldErrors::new()).await
}

pub async fn save(state: web::Data<AppState>, authed: Authed, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let fields = form_pairs(&body)?;
    let actor = authed.actor();
    match state.run(move |conn| second_factor::set_policy(conn, &actor, &fields)).await {
        Ok(_) => {
            Ok(see_other_with_flash(&authed.ctx, "/settings/security", FlashKind::Success, "Security policy saved."))
        }
        Err(AppError::Validation(errors)) => security_page(&state, &authed, errors).await,
        Err(e) => Err(e),
    }
}

pub async fn reset(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (actor, id) = (authed.actor(), id.into_inner());
    let email = state.run(move |conn| second_factor::reset(conn, &actor, id)).await?;
    Ok(see_other_with_flash(
        &authed.ctx,
        "/settings/security",
        FlashKind::Success,
        &format!(
            "Every second factor of {email} is removed and their sessions ended; they set one up at their next sign-in."
        ),
    ))
}
