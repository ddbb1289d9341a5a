use crate::web::datetime::Stamp as _;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::error::AppError;
use crate::service::dashboard::{self, Overview};
use crate::web::context::Authed;
use crate::web::layout::Layout;
use crate::web::page;

#[derive(Template)]
#[template(path = "pages/dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub org_name: String,
    pub role_label: &'static str,
    pub can_administer: bool,
    pub can_create: bool,
    pub o: Overview,
}

pub async fn show(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let stuck_after = state.config.stuck_after;
    let overview = state.run(move |conn| dashboard::overview(conn, &actor, stuck_after)).await?;
    page(&DashboardPage {
        layout: Layout::new(&authed.ctx, "/"),
        org_name: authed.user.org_name.clone(),
        role_label: authed.user.role.label(),
        can_administer: authed.user.role.can_administer(),
        can_create: authed.user.role.can_create_payouts(),
        o: overview,
    })
}
