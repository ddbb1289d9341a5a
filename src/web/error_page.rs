//! Error pages inside the page layout: a person who meets a 403, 404 or 500 keeps the header,
//! the navigation and Sign out, and a refusal names who may do it. The session layer calls this
//! for every HTML error a handler returned; errors met before the session is known (a broken
//! session lookup, a panic) keep the plain page of `AppError`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::layout::Layout;
use super::request::RequestContext;
use crate::AppState;
use crate::domain::account::Role;
use crate::error::AppError;
use crate::service::access::users;

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    title: &'static str,
    message: String,
    link: Option<(&'static str, &'static str)>,
    /// For a refusal: who in the organization may do it, whom to ask.
    ask: Vec<String>,
    ask_role: &'static str,
}

/// The page for `error`, or None when the plain page must stay (it could not be rendered).
pub async fn render(
    state: &AppState,
    ctx: &RequestContext,
    error: &AppError,
    status: StatusCode,
) -> Option<HttpResponse> {
    let roles = error.roles_that_may();
    let ask_role = match roles.as_slice() {
        [Role::Admin] => "Admins",
        [Role::Manager] => "Managers",
        [Role::Accountant] => "Accountants",
        _ => "These people",
    };
    let ask = match (&ctx.user, error.is_role_refusal()) {
        (Some(user), true) => {
            let (org_id, me) = (user.org_id, user.email.clone());
            let found = state.run(move |conn| users::who_can_any(conn, org_id, &roles)).await.unwrap_or_default();
            found.into_iter().filter(|e| *e != me).collect()
        }
        _ => Vec::new(),
    };
    let page = ErrorPage {
        layout: Layout::new(ctx, ""),
        status: status.as_u16(),
        title: error.title(),
        message: error.public_message(),
        link: error.fix_link(),
        ask,
        ask_role,
    };
    let body = page.render().ok()?;
    Some(
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
    )
}
