use actix_web::HttpResponse;
use askama::Template;

use crate::error::AppError;
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
}

pub async fn show(authed: Authed) -> Result<HttpResponse, AppError> {
    page(&DashboardPage {
        layout: Layout::new(&authed.ctx, "/"),
        org_name: authed.user.org_name.clone(),
        role_label: authed.user.role.label(),
        can_administer: authed.user.role.can_administer(),
    })
}
