//! The inbox (the bell), a person's notification preferences, and the organization's chat
//! channels (admins).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::db::notices::{NotificationRow, PrefsRow};
use crate::domain::FieldErrors;
use crate::domain::notice::{CHAT_TOPICS, Group, Mode};
use crate::error::AppError;
use crate::service::outbound::inbox::{self, Channels, ChannelsForm, PrefsForm};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp;
use crate::web::layout::Layout;
use crate::web::{form_pairs, html, see_other, see_other_with_flash, values_of};

#[derive(Template)]
#[template(path = "pages/inbox.html")]
pub struct InboxPage {
    pub layout: Layout,
    pub notices: Vec<NotificationRow>,
    /// The id to page on from, when there may be more.
    pub older: Option<i64>,
}

#[derive(serde::Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    before: Option<i64>,
}

pub async fn list(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let (actor, before) = (authed.actor(), query.before);
    let notices = state.run(move |conn| inbox::list(conn, &actor, before)).await?;
    let older = (notices.len() as i64 == inbox::PAGE).then(|| notices.last().map(|n| n.id)).flatten();
    html(StatusCode::OK, &InboxPage { layout: Layout::new(&authed.ctx, ""), notices, older })
}

/// Opens a notice: it is marked read and the page it is about follows.
pub async fn open(state: web::Data<AppState>, authed: Authed, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (actor, id) = (authed.actor(), id.into_inner());
    let link = state.run(move |conn| inbox::open(conn, &actor, id)).await?;
    Ok(see_other(&link))
}

pub async fn read_all(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let n = state.run(move |conn| inbox::mark_all_read(conn, &actor)).await?;
    Ok(see_other_with_flash(&authed.ctx, "/inbox", FlashKind::Success, &format!("Marked {n} notices read.")))
}

#[derive(Template)]
#[template(path = "pages/account_notifications.html")]
pub struct PrefsPage {
    pub layout: Layout,
    pub prefs: PrefsRow,
    pub groups: Vec<(Group, &'static str)>,
    pub modes: &'static [Mode],
    pub errors: FieldErrors,
    pub mail: bool,
    pub zone: String,
}

async fn prefs_page(
    state: &AppState,
    authed: &Authed,
    status: StatusCode,
    prefs: Option<PrefsRow>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let org_id = actor.org_id;
    let (saved, zone) = state
        .run(move |conn| {
            Ok((inbox::prefs(conn, &actor)?, crate::service::payouts::schedules::org_zone(conn, org_id)?.name()))
        })
        .await?;
    html(
        status,
        &PrefsPage {
            layout: Layout::new(&authed.ctx, ""),
            prefs: prefs.unwrap_or(saved),
            groups: inbox::groups(),
            modes: Mode::ALL,
            errors,
            mail: state.config.smtp.is_some(),
            zone: zone.to_owned(),
        },
    )
}

pub async fn prefs(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    prefs_page(&state, &authed, StatusCode::OK, None, FieldErrors::new()).await
}

pub async fn save_prefs(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<PrefsForm>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let form = form.into_inner();
    match state.run(move |conn| inbox::save_prefs(conn, &actor, &form)).await {
        Ok(_) => Ok(see_other_with_flash(
            &authed.ctx,
            "/account/notifications",
            FlashKind::Success,
            "Your notification preferences are saved.",
        )),
        Err(AppError::Validation(errors)) => {
            prefs_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, None, errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "pages/settings_notifications.html")]
pub struct ChannelsPage {
    pub layout: Layout,
    pub channels: Channels,
    pub topics: &'static [(&'static str, &'static str)],
    pub form: ChannelsForm,
    pub errors: FieldErrors,
    pub mail: bool,
}

async fn channels_page(
    state: &AppState,
    authed: &Authed,
    status: StatusCode,
    form: Option<ChannelsForm>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let channels = state.run(move |conn| inbox::channels(conn, &actor)).await?;
    let form = form.unwrap_or_else(|| ChannelsForm {
        slack_url: channels.settings.slack_url.clone().unwrap_or_default(),
        telegram_token: String::new(),
        telegram_chat_id: channels.settings.telegram_chat_id.clone().unwrap_or_default(),
        remove_telegram: None,
        topics: channels.settings.chat_topics.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        reminder_hours: channels.settings.reminder_hours.to_string(),
    });
    html(
        status,
        &ChannelsPage {
            layout: Layout::new(&authed.ctx, "/settings"),
            channels,
            topics: &CHAT_TOPICS,
            form,
            errors,
            mail: state.config.smtp.is_some(),
        },
    )
}

pub async fn channels(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    channels_page(&state, &authed, StatusCode::OK, None, FieldErrors::new()).await
}

pub async fn save_channels(
    state: web::Data<AppState>,
    authed: Authed,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let fields = form_pairs(&body)?;
    let one = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let form = ChannelsForm {
        slack_url: one("slack_url"),
        telegram_token: one("telegram_token"),
        telegram_chat_id: one("telegram_chat_id"),
        remove_telegram: fields.iter().any(|(k, _)| k == "remove_telegram").then(String::new),
        topics: values_of(&fields, "topics"),
        reminder_hours: one("reminder_hours"),
    };
    let (actor, policy, secret, submitted) =
        (authed.actor(), state.config.webhooks, state.secret.clone(), form.clone());
    match state.run(move |conn| inbox::save_channels(conn, &actor, &submitted, &policy, &secret)).await {
        Ok(()) => Ok(see_other_with_flash(
            &authed.ctx,
            "/settings/notifications",
            FlashKind::Success,
            "The notification settings are saved.",
        )),
        Err(AppError::Validation(errors)) => {
            let kept = ChannelsForm { telegram_token: String::new(), ..form };
            channels_page(&state, &authed, StatusCode::UNPROCESSABLE_ENTITY, Some(kept), errors).await
        }
        Err(e) => Err(e),
    }
}
