use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::access::sessions;
use crate::service::payouts::bootstrap::{DEMO_PASSWORD, DEMO_USERS};
use crate::web::context::{Ctx, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::web::layout::Layout;
use crate::web::{html, see_other};

pub struct DemoAccount {
    pub email: &'static str,
    pub role: &'static str,
}

#[derive(Template)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub errors: FieldErrors,
    pub demo_accounts: Vec<DemoAccount>,
    pub demo_password: &'static str,
    /// `?next=…` for the forms' action: the page asked for before signing in.
    pub next_query: String,
}

impl LoginPage {
    fn new(ctx: &crate::web::context::RequestContext, email: String, errors: FieldErrors, next: Option<&str>) -> Self {
        let demo_accounts = if ctx.demo {
            DEMO_USERS.iter().map(|(email, role)| DemoAccount { email, role: role.label() }).collect()
        } else {
            Vec::new()
        };
        let next_query = crate::web::next::with_next("", next);
        Self { layout: Layout::new(ctx, ""), email, errors, demo_accounts, demo_password: DEMO_PASSWORD, next_query }
    }
}

pub async fn login_page(Ctx(ctx): Ctx, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let next = crate::web::next::from_query(req.query_string());
    if ctx.user.is_some() {
        return Ok(see_other(next.as_deref().unwrap_or("/")));
    }
    html(StatusCode::OK, &LoginPage::new(&ctx, String::new(), FieldErrors::new(), next.as_deref()))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    state: web::Data<AppState>,
    Ctx(ctx): Ctx,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let next = crate::web::next::from_query(req.query_string());
    let LoginForm { email, password } = form.into_inner();
    let previous = ctx.session_token.clone();
    let (ip, at) = (ctx.ip.clone(), state.clock.now());
    let typed_email = email.clone();
    let result =
        state.run(move |conn| sessions::login(conn, &email, &password, previous.as_deref(), ip.as_deref(), at)).await;
    match result {
        Ok(session) => {
            // The page asked for comes after the second factor, when there is one.
            let to = match (session.second_factor, next.as_deref()) {
                (true, next) => crate::web::next::with_next("/login/second-factor", next),
                (false, Some(next)) => next.to_owned(),
                (false, None) => "/".to_owned(),
            };
            let mut res = see_other(&to);
            res.add_cookie(&ctx.cookie(SESSION_COOKIE, session.token)).ok();
            res.add_cookie(&ctx.removal_cookie(LOGIN_CSRF_COOKIE)).ok();
            Ok(res)
        }
        Err(AppError::Validation(errors)) => {
            html(StatusCode::UNPROCESSABLE_ENTITY, &LoginPage::new(&ctx, typed_email, errors, next.as_deref()))
        }
        Err(e) => Err(e),
    }
}
