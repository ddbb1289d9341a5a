//! Schedules: recurring pay days that make a draft ahead of each one, and the organization's
//! time zone they run in.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::error::AppError;
use crate::service::payouts::schedules::{self, ScheduleForm, ScheduleView};
use crate::web::context::{Authed, FlashKind};
use crate::web::layout::Layout;
use crate::web::{html, see_other_with_flash};

#[derive(Template)]
#[template(path = "pages/schedules.html")]
pub struct ListTemplate {
    pub layout: Layout,
    pub zone: &'static str,
    pub schedules: Vec<ScheduleView>,
    pub can_edit: bool,
    pub is_admin: bool,
    pub zone_typed: String,
    pub errors: FieldErrors,
}

async fn list_page(
    state: &AppState,
    authed: &Authed,
    zone_typed: Option<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (zone, list) = state.run(move |conn| schedules::list(conn, &actor)).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(
        status,
        &ListTemplate {
            layout: Layout::new(&authed.ctx, "/schedules"),
            zone: zone.name(),
            schedules: list,
            can_edit: authed.user.role.can_create_payouts(),
            is_admin: authed.user.role.can_administer(),
            zone_typed: zone_typed.unwrap_or_else(|| zone.name().to_owned()),
            errors,
        },
    )
}

pub async fn list(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    list_page(&state, &authed, None, FieldErrors::new()).await
}

#[derive(Template)]
#[template(path = "pages/schedule_new.html")]
pub struct NewTemplate {
    pub layout: Layout,
    pub payout_id: i64,
    pub payout_description: String,
    pub rows: usize,
    pub zone: &'static str,
    pub form: ScheduleForm,
    pub errors: FieldErrors,
}

impl NewTemplate {
    /// (name, label, hint, value, monospace) of each field.
    pub fn fields(&self) -> [(&'static str, &'static str, &'static str, &str, bool); 4] {
        let f = &self.form;
        [
            ("name", "Name", "Shown on the drafts it makes, such as \"Monthly salaries\".", &f.name, false),
            (
                "day_of_month",
                "Day of the month",
                "1 to 31; a month without that day pays on its last day.",
                &f.day_of_month,
                true,
            ),
            ("time_of_day", "Time of day", "HH:MM, when the rows are sent once confirmed.", &f.time_of_day, true),
            (
                "days_before",
                "Make the draft this many days before",
                "0 to 27: time to review it, and for managers to approve it.",
                &f.days_before,
                true,
            ),
        ]
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    from: i64,
}

async fn new_page(
    state: &AppState,
    authed: &Authed,
    payout_id: i64,
    form: Option<ScheduleForm>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let (payout, rows, zone) = state
        .run(move |conn| {
            actor.require(Role::can_create_payouts)?;
            let payout = crate::db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
            let rows = crate::db::payouts::items(conn, payout.id)?.len();
            Ok((payout, rows, schedules::org_zone(conn, actor.org_id)?))
        })
        .await?;
    let form = form.unwrap_or_else(|| ScheduleForm {
        name: payout.description.chars().take(schedules::MAX_NAME_CHARS).collect(),
        day_of_month: "25".into(),
        time_of_day: "09:00".into(),
        days_before: "3".into(),
    });
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(
        status,
        &NewTemplate {
            layout: Layout::new(&authed.ctx, "/schedules"),
            payout_id: payout.id,
            payout_description: payout.description,
            rows,
            zone: zone.name(),
            form,
            errors,
        },
    )
}

pub async fn new(
    state: web::Data<AppState>,
    authed: Authed,
    q: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    new_page(&state, &authed, q.from, None, FieldErrors::new()).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    from: i64,
    #[serde(flatten)]
    form: ScheduleForm,
}

pub async fn create(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let CreateForm { from, form } = form.into_inner();
    let actor = authed.actor();
    let f = form.clone();
    match state.run(move |conn| schedules::create(conn, &actor, from, &f)).await {
        Ok(s) => Ok(see_other_with_flash(
            &authed.ctx,
            "/schedules",
            FlashKind::Success,
            &format!("Schedule \"{}\" saved. Its first draft is made ahead of its first pay day.", s.name),
        )),
        Err(AppError::Validation(errors)) => new_page(&state, &authed, from, Some(form), errors).await,
        Err(e) => Err(e),
    }
}

pub async fn set_active(
    state: web::Data<AppState>,
    authed: Authed,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let active = match action.as_str() {
        "resume" => true,
        "pause" => false,
        _ => return Err(AppError::NotFound),
    };
    let actor = authed.actor();
    let s = state.run(move |conn| schedules::set_active(conn, &actor, id, active)).await?;
    let message = if active {
        format!("Schedule \"{}\" resumed.", s.name)
    } else {
        format!("Schedule \"{}\" paused: no draft is made until it is resumed.", s.name)
    };
    Ok(see_other_with_flash(&authed.ctx, "/schedules", FlashKind::Success, &message))
}

#[derive(Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    time_zone: String,
}

pub async fn save_zone(
    state: web::Data<AppState>,
    authed: Authed,
    form: web::Form<ZoneForm>,
) -> Result<HttpResponse, AppError> {
    let typed: String = form.into_inner().time_zone.chars().take(100).collect();
    let actor = authed.actor();
    let t = typed.clone();
    match state.run(move |conn| schedules::set_zone(conn, &actor, &t)).await {
        Ok(zone) => Ok(see_other_with_flash(
            &authed.ctx,
            "/schedules",
            FlashKind::Success,
            &format!("Pay days and schedules now use {}.", zone.name()),
        )),
        Err(AppError::Validation(errors)) => list_page(&state, &authed, Some(typed), errors).await,
        Err(e) => Err(e),
    }
}
