//! One error type. Variants a user can act on render as such; the rest become a 500 with a log
//! line carrying the request id (the request span is active when this renders).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(FieldErrors),
    #[error("not found")]
    NotFound,
    #[error("your role does not allow this")]
    Forbidden,
    /// Forbidden for this role; the roles that may.
    #[error("your role does not allow this")]
    RoleRequired(Vec<crate::domain::account::Role>),
    /// Forbidden, with the rule that forbids it.
    #[error("{0}")]
    NotAllowed(String),
    #[error("sign in first")]
    Unauthenticated,
    /// Signed in with a password; the second factor is still to give.
    #[error("give your second factor first")]
    SecondFactorRequired,
    /// The organization requires a second factor this user has not set up.
    #[error("set up a second factor first")]
    EnrolmentRequired,
    /// The action needs a fresh second factor; says which and how to give it.
    #[error("{0}")]
    StepUpRequired(String),
    #[error("the form was stale or forged (CSRF check failed)")]
    Csrf,
    #[error("{0}")]
    Conflict(String),
    /// A request body or upload over its size limit, with the limit in words.
    #[error("{0}")]
    TooLarge(String),
    #[error("database error: {0}")]
    Db(String),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("template: {0}")]
    Render(#[from] askama::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::NotFound => AppError::NotFound,
            other => AppError::Db(other.to_string()),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Validation(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
    /// Where to go to fix it, when there is such a place.
    link: Option<(&'static str, &'static str)>,
}

impl AppError {
    pub(crate) fn title(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "Please correct the form",
            AppError::NotFound => "Not found",
            AppError::Forbidden | AppError::RoleRequired(_) | AppError::NotAllowed(_) => "Not allowed",
            AppError::Unauthenticated => "Sign in required",
            AppError::SecondFactorRequired | AppError::EnrolmentRequired => "Second factor required",
            AppError::StepUpRequired(_) => "Confirm it's you",
            AppError::Csrf => "Form expired",
            AppError::Conflict(_) => "Could not complete the action",
            AppError::TooLarge(_) => "Too large",
            _ => "Something went wrong",
        }
    }

    /// What the person reading the page is told; internal details stay in the log.
    pub(crate) fn public_message(&self) -> String {
        match self {
            AppError::Validation(e) => e.to_string(),
            AppError::NotFound => "There is nothing here, or it belongs to another organization.".into(),
            AppError::Forbidden => "Your role does not allow this. Ask an administrator if you need it.".into(),
            AppError::RoleRequired(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.label()).collect();
                format!("Your role does not allow this: it is for the {} role.", names.join(" or "))
            }
            AppError::Unauthenticated => "Sign in to continue.".into(),
            AppError::Csrf => "This form was open too long or came from another site. Go back, reload the page and try again; nothing was changed.".into(),
            AppError::Conflict(m) | AppError::NotAllowed(m) | AppError::TooLarge(m) | AppError::StepUpRequired(m) => {
                m.clone()
            }
            AppError::SecondFactorRequired => "Give your second factor to finish signing in.".into(),
            AppError::EnrolmentRequired => {
                "Your organization requires a second factor for your role: set one up to continue.".into()
            }
            _ => "The server could not complete the request. Nothing you typed was lost; try again in a moment.".into(),
        }
    }
}

impl AppError {
    /// Where to go to fix it, when there is such a place.
    pub(crate) fn fix_link(&self) -> Option<(&'static str, &'static str)> {
        match self {
            AppError::StepUpRequired(_) => Some(("/step-up", "Confirm it's you")),
            _ => None,
        }
    }

    /// Refused for the person's role (not for a rule like four eyes): a page can name who may.
    pub(crate) fn is_role_refusal(&self) -> bool {
        matches!(self, AppError::Forbidden | AppError::RoleRequired(_))
    }

    /// The roles whose holders may do what was refused: those named, else admins, who give roles.
    pub(crate) fn roles_that_may(&self) -> Vec<crate::domain::account::Role> {
        match self {
            AppError::RoleRequired(roles) => roles.clone(),
            _ => vec![crate::domain::account::Role::Admin],
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden
            | AppError::RoleRequired(_)
            | AppError::NotAllowed(_)
            | AppError::Csrf
            | AppError::StepUpRequired(_) => StatusCode::FORBIDDEN,
            AppError::Unauthenticated | AppError::SecondFactorRequired | AppError::EnrolmentRequired => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let redirect = match self {
            AppError::Unauthenticated => Some("/login"),
            AppError::SecondFactorRequired => Some("/login/second-factor"),
            AppError::EnrolmentRequired => Some("/account/security"),
            _ => None,
        };
        if let Some(to) = redirect {
            return HttpResponse::SeeOther()
                .insert_header(("Location", to))
                .insert_header(("HX-Redirect", to))
                .finish();
        }
        let page = ErrorPage {
            status: status.as_u16(),
            title: self.title(),
            message: self.public_message(),
            link: self.fix_link(),
        };
        match page.render() {
            Ok(body) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body),
            Err(_) => HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(page.message),
        }
    }
}

/// An amount read back from the database. Stored amounts are canonical, so one that does not
/// parse is corruption, never something a user typed.
pub fn stored_amount(asset: &'static crate::domain::Asset, s: &str) -> Result<crate::domain::Amount, AppError> {
    crate::domain::Amount::parse_non_negative(asset, s)
        .map_err(|e| AppError::Internal(format!("stored {} amount {s:?}: {e}", asset.code)))
}
