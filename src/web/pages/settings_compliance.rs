//! Settings → Compliance (admins): the sanctions lists in force with their age, a list uploaded
//! (audited, after a fresh second factor), and how old a list the organization accepts.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use futures_util::TryStreamExt as _;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::error::AppError;
use crate::service::access::second_factor;
use crate::service::compliance::freshness::{self, ListAge};
use crate::service::compliance::refresh::Source;
use crate::service::compliance::{self, Importer};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp;
use crate::web::layout::Layout;
use crate::web::{form_pairs, html, see_other_with_flash, values_of};

/// Largest list uploaded through the page (OFAC's SDN_ADVANCED.XML is about 100 MB).
pub const MAX_UPLOAD_BYTES: u64 = compliance::refresh::MAX_BYTES;

#[derive(Template)]
#[template(path = "pages/settings_compliance.html")]
pub struct CompliancePage {
    pub layout: Layout,
    pub lists: Vec<ListAge>,
    pub max_age_days: i32,
    pub sources: Vec<(String, String)>,
    /// The list name typed, kept when the upload is refused.
    pub list_name: String,
    pub errors: FieldErrors,
}

impl CompliancePage {
    pub fn published(&self, a: &ListAge) -> String {
        a.list.published_at.map(|t| t.date().to_string()).unwrap_or_else(|| "not stated".into())
    }

    pub fn imported(&self, a: &ListAge) -> String {
        a.list.imported_at.minutes_utc().to_string()
    }
}

async fn page(
    state: &AppState,
    authed: &Authed,
    list_name: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let now = state.clock.now();
    let (lists, max_age_days) = state
        .run(move |conn| {
            actor.require(Role::can_administer)?;
            freshness::ages(conn, actor.org_id, now)
        })
        .await?;
    let sources = state.config.sanctions_sources.iter().map(|s: &Source| (s.list.clone(), s.shown())).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(
        status,
        &CompliancePage {
            layout: Layout::new(&authed.ctx, "/settings"),
            lists: lists.into_iter().filter(|l| l.list.version > 0).collect(),
            max_age_days,
            sources,
            list_name,
            errors,
        },
    )
}

pub async fn show(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    page(&state, &authed, String::new(), FieldErrors::new()).await
}

/// The upload's fields: the list's name, a code for the step-up, and the file.
#[derive(Default)]
struct Upload {
    list: String,
    otp: String,
    file: Option<Vec<u8>>,
}

/// Reads the multipart form, the file stopping one byte past the limit, each text field at 200
/// bytes.
async fn read_upload(mut payload: Multipart) -> Result<Upload, AppError> {
    let bad =
        |e: actix_multipart::MultipartError| FieldErrors::single("file", format!("The upload could not be read: {e}"));
    let mut upload = Upload::default();
    while let Some(mut field) = payload.try_next().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let limit = if name == "file" { MAX_UPLOAD_BYTES } else { 200 };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(bad)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > limit {
                // Read no further: the whole form is refused.
                let what = if name == "file" { "file" } else { "list" };
                let message = if name == "file" {
                    format!("The file is larger than {} MB.", MAX_UPLOAD_BYTES / 1024 / 1024)
                } else {
                    "This field is too long.".to_owned()
                };
                return Err(FieldErrors::single(what, message).into());
            }
        }
        match name.as_str() {
            "file" => upload.file = Some(bytes),
            "list" => upload.list = String::from_utf8_lossy(&bytes).chars().take(100).collect(),
            "otp" => upload.otp = String::from_utf8_lossy(&bytes).trim().chars().take(10).collect(),
            _ => {}
        }
    }
    Ok(upload)
}

/// Uploads a list (SDN.XML, SDN_ADVANCED.XML, CSV or plain): all or nothing.
pub async fn upload(state: web::Data<AppState>, authed: Authed, payload: Multipart) -> Result<HttpResponse, AppError> {
    // Refused before a byte of the file is read.
    authed.actor().require(Role::can_administer)?;
    let upload = match read_upload(payload).await {
        Ok(u) => u,
        Err(AppError::Validation(e)) => return page(&state, &authed, String::new(), e).await,
        Err(e) => return Err(e),
    };
    let list = upload.list.trim().to_owned();
    let mut errors = FieldErrors::new();
    match &upload.file {
        None => errors.add("file", "Choose the list's file."),
        Some(b) if b.is_empty() => errors.add("file", "Choose the list's file."),
        Some(_) => {}
    }
    if !errors.is_empty() {
        return page(&state, &authed, list, errors).await;
    }
    let mut actor = authed.actor();
    if !upload.otp.is_empty() {
        let (user, session, secret, now) =
            (authed.user.user_id, authed.user.session_id, state.secret.clone(), state.clock.now());
        let code = upload.otp.clone();
        match state
            .run(move |conn| second_factor::step_up_with_code(conn, user, Some(session), &secret, &code, now))
            .await
        {
            Ok(at) => actor.stepped_up_at = Some(at),
            Err(AppError::Validation(e)) => return page(&state, &authed, list, e).await,
            Err(e) => return Err(e),
        }
    }
    let bytes = upload.file.unwrap_or_default();
    let (name, at) = (list.clone(), state.clock.now());
    let done =
        state.run(move |conn| compliance::import(conn, Importer::Person(&actor), &name, "uploaded", &bytes, at)).await;
    match done {
        Ok(i) if i.stood => {
            let published = i.published.map(|d| format!(", published {d}")).unwrap_or_default();
            let message = format!(
                "{}: {} addresses from {}{published} are in force (version {}).",
                i.list, i.entries, i.shape, i.version
            );
            Ok(see_other_with_flash(&authed.ctx, "/settings/compliance", FlashKind::Success, &message))
        }
        // Two imports of one list at once: the one handed the later version stands.
        Ok(i) => {
            let message = format!(
                "{}: another import of this list, started after yours, is in force instead; yours was not kept.                  Check the list's version and entries below.",
                i.list
            );
            Ok(see_other_with_flash(&authed.ctx, "/settings/compliance", FlashKind::Error, &message))
        }
        Err(AppError::Validation(e)) => page(&state, &authed, list, e).await,
        Err(e) => Err(e),
    }
}

/// How old a list the organization accepts.
pub async fn save_max_age(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let days = values_of(&form_pairs(&body)?, "max_age_days").into_iter().next().unwrap_or_default();
    let actor = authed.actor();
    match state.run(move |conn| freshness::set_max_age(conn, &actor, &days)).await {
        Ok(days) => Ok(see_other_with_flash(
            &authed.ctx,
            "/settings/compliance",
            FlashKind::Success,
            &format!("A list older than {days} days is now named as out of date."),
        )),
        Err(AppError::Validation(e)) => page(&state, &authed, String::new(), e).await,
        Err(e) => Err(e),
    }
}
