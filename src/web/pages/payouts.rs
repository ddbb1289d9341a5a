//! Payouts: the list, details, cancel, a row's transfer cancelled or resolved, export. The single
//! form is `single`; the mass editor `drafts`, its review `mass_review`, what follows a run `runs`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::asset::Asset;
use crate::domain::payout::PayoutStatus;
use crate::error::AppError;
use crate::service::access::org_settings;
use crate::service::payees::AddressFlags;
use crate::service::payouts::{self, Details, ListPage, ListQuery};
use crate::web::context::{Authed, FlashKind};
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::{page, see_other_with_flash};

/// A full page for a browser, only the live part for htmx polling (boosted navigation is a
/// full page too).
fn wants_fragment(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request") && !req.headers().contains_key("HX-Boosted")
}

#[derive(Template)]
#[template(path = "pages/payouts_list.html")]
pub struct ListTemplate {
    pub layout: Layout,
    pub page: ListPage,
    pub query: ListQuery,
    pub errors: FieldErrors,
    pub assets: Vec<&'static Asset>,
    pub statuses: [PayoutStatus; 6],
    pub can_create: bool,
    pub base_query: String,
}

impl ListTemplate {
    /// The first page of a status tab, keeping the other filters.
    pub fn tab_link(&self, status: &Option<PayoutStatus>) -> String {
        let q = ListQuery {
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            before: None,
            ..self.query.clone()
        };
        format!("/payouts?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
    }

    /// The next page under the same filters.
    pub fn next_link(&self, before: &i64) -> String {
        let q = ListQuery { before: Some(*before), ..self.query.clone() };
        format!("/payouts?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
    }

    pub fn is_tab(&self, status: &Option<PayoutStatus>) -> bool {
        status.map(|s| s.as_str()).unwrap_or("") == self.query.status
    }
}

pub async fn list(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let actor = authed.actor();
    let q = query.clone();
    let (result, assets) = state
        .run(move |conn| {
            let assets = org_settings::enabled_assets(conn, actor.org_id)?;
            Ok((payouts::list(conn, &actor, &q), assets))
        })
        .await?;
    let (page_data, errors) = match result {
        Ok(p) => (p, FieldErrors::new()),
        Err(AppError::Validation(errors)) => (ListPage { payouts: vec![], next_before: None, counts: vec![] }, errors),
        Err(e) => return Err(e),
    };
    let base_query = serde_urlencoded::to_string(ListQuery { before: None, ..query.clone() }).unwrap_or_default();
    page(&ListTemplate {
        layout: Layout::new(&authed.ctx, "/payouts"),
        page: page_data,
        query,
        errors,
        assets,
        statuses: PayoutStatus::ALL,
        can_create: authed.user.role.can_create_payouts(),
        base_query,
    })
}

pub async fn export(
    state: web::Data<AppState>,
    authed: Authed,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let query = query.into_inner();
    let body = state.run(move |conn| payouts::export_csv(conn, &actor, &query)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"payouts.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// Rows per page of a payout's recipients table.
pub const ITEMS_PER_PAGE: usize = 100;

/// Which recipients the details page lists.
pub struct ItemsShown {
    /// The status filter as in the query string ("" for all).
    pub filter: String,
    pub page: usize,
    pub pages: usize,
    pub matching: usize,
    /// The query string of this view, for links and for polling.
    pub query: String,
}

impl ItemsShown {
    pub fn link(&self, filter: &str, page: usize) -> String {
        format!("?items={filter}&page={page}")
    }
}

#[derive(Template)]
#[template(path = "pages/payout_details.html")]
pub struct DetailsTemplate {
    pub layout: Layout,
    pub d: Details,
    pub can_review: bool,
    /// Admins may release a row held for compliance once its address is on no list.
    pub can_release: bool,
    /// The payout's asset is paid on a real chain, where a pending transfer can be cancelled.
    pub on_chain: bool,
    pub csrf_token: String,
    pub decision: crate::service::payouts::approvals::Decision,
    pub rail_label: &'static str,
    pub shown: ItemsShown,
    pub item_filters: [(&'static str, &'static str); 4],
    /// While the payout awaits approval: rows to an address never paid, or a payee's changed one.
    pub flags: AddressFlags,
}

#[derive(Template)]
#[template(path = "pages/payout_details.html", block = "live")]
pub struct DetailsLive {
    pub d: Details,
    pub can_review: bool,
    pub can_release: bool,
    pub on_chain: bool,
    pub csrf_token: String,
    pub rail_label: &'static str,
    pub shown: ItemsShown,
    pub item_filters: [(&'static str, &'static str); 4],
}

const ITEM_FILTERS: [(&str, &str); 4] =
    [("", "All"), ("completed", "Paid"), ("failed", "Failed"), ("open", "Not finished")];

#[derive(Deserialize)]
pub struct DetailsQuery {
    #[serde(default)]
    items: String,
    page: Option<usize>,
}

pub async fn details(
    req: HttpRequest,
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    query: web::Query<DetailsQuery>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let id = id.into_inner();
    let (mut d, decision, flags) = state
        .run(move |conn| {
            let d = payouts::details(conn, &actor, id)?;
            let decision = crate::service::payouts::approvals::decision(conn, &actor, id)?;
            let flags = if d.payout.status == PayoutStatus::Pending {
                let rows: Vec<(u64, &str)> =
                    d.items.iter().map(|i| (i.row.line as u64, i.row.address.as_str())).collect();
                crate::service::payees::address_flags(conn, &actor, d.payout.asset, &rows)?
            } else {
                AddressFlags::default()
            };
            Ok((d, decision, flags))
        })
        .await?;
    let filter = ITEM_FILTERS.iter().find(|(f, _)| *f == query.items).map_or("", |(f, _)| *f);
    let matching: Vec<_> = std::mem::take(&mut d.items)
        .into_iter()
        .filter(|i| match filter {
            "" => true,
            "open" => !i.status.is_terminal(),
            f => i.status.as_str() == f,
        })
        .collect();
    let pages = matching.len().div_ceil(ITEMS_PER_PAGE).max(1);
    let page_number = query.page.unwrap_or(1).clamp(1, pages);
    let count = matching.len();
    d.items = matching.into_iter().skip((page_number - 1) * ITEMS_PER_PAGE).take(ITEMS_PER_PAGE).collect();
    let shown = ItemsShown {
        filter: filter.to_owned(),
        page: page_number,
        pages,
        matching: count,
        query: format!("items={filter}&page={page_number}"),
    };
    let rail_label = state.network_label(d.payout.asset);
    let on_chain = state.rail_for(d.payout.asset).is_some();
    if wants_fragment(&req) {
        return page(&DetailsLive {
            d,
            on_chain,
            can_review: authed.user.role.can_approve(),
            can_release: authed.user.role.can_administer(),
            csrf_token: authed.ctx.csrf_token.clone(),
            rail_label,
            shown,
            item_filters: ITEM_FILTERS,
        });
    }
    page(&DetailsTemplate {
        layout: Layout::new(&authed.ctx, "/payouts"),
        d,
        on_chain,
        can_review: authed.user.role.can_approve(),
        can_release: authed.user.role.can_administer(),
        csrf_token: authed.ctx.csrf_token.clone(),
        decision,
        rail_label,
        shown,
        item_filters: ITEM_FILTERS,
        flags,
    })
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub async fn cancel(
    state: web::Data<AppState>,
    authed: Authed,
    id: web::Path<i64>,
    form: web::Form<ReasonForm>,
) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let id = id.into_inner();
    let reason = form.into_inner().reason;
    let location = format!("/payouts/{id}");
    match state.run(move |conn| payouts::cancel(conn, &actor, id, &reason)).await {
        Ok(_) => Ok(see_other_with_flash(
            &authed.ctx,
            &location,
            FlashKind::Success,
            "Payout cancelled; its funds are available again.",
        )),
        Err(AppError::Validation(errors)) => {
            let message = errors.get("reason").unwrap_or("Say why the payout is cancelled.").to_owned();
            Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &message))
        }
        Err(AppError::Conflict(message)) => {
            Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &message))
        }
        Err(e) => Err(e),
    }
}

pub async fn resolve_item(
    state: web::Data<AppState>,
    authed: Authed,
    path: web::Path<(i64, i64)>,
    form: web::Form<crate::service::payouts::review::ResolveForm>,
) -> Result<HttpResponse, AppError> {
    let (id, item) = path.into_inner();
    let actor = authed.actor();
    let form = form.into_inner();
    let location = format!("/payouts/{id}");
    match state.run(move |conn| crate::service::payouts::review::resolve(conn, &actor, id, item, &form)).await {
        Ok(()) => Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Success, "Row resolved.")),
        Err(AppError::Validation(e)) => {
            let m = e.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ");
            Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &m))
        }
        Err(AppError::Conflict(m)) => Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &m)),
        Err(e) => Err(e),
    }
}

/// A manager fails a row held for compliance (its funds released), or an admin releases it
/// once its address is on no list.
pub async fn decide_held(
    state: web::Data<AppState>,
    authed: Authed,
    path: web::Path<(i64, i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, item, decision) = path.into_inner();
    let actor = authed.actor();
    let location = format!("/payouts/{id}");
    let release = match decision.as_str() {
        "release" => true,
        "fail" => false,
        _ => return Err(AppError::NotFound),
    };
    let done = state
        .run(move |conn| {
            if release {
                crate::service::payouts::holds::release_held(conn, &actor, id, item)
            } else {
                crate::service::payouts::holds::fail_held(conn, &actor, id, item)
            }
        })
        .await;
    let said =
        if release { "Row released: it is screened again and sent." } else { "Row failed; its funds are released." };
    match done {
        Ok(()) => Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Success, said)),
        Err(AppError::Conflict(m)) => Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &m)),
        Err(e) => Err(e),
    }
}

/// A manager cancels a row's pending transaction (rails that can replace one).
pub async fn cancel_transfer(
    state: web::Data<AppState>,
    authed: Authed,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, item) = path.into_inner();
    let actor = authed.actor();
    let location = format!("/payouts/{id}");
    match state.run(move |conn| crate::service::payouts::review::cancel_transfer(conn, &actor, id, item)).await {
        Ok(rows) => {
            let what = if rows > 1 {
                format!("Its transaction, which pays {rows} rows, will be")
            } else {
                "It will be".into()
            };
            let text = format!(
                "Cancellation requested. {what} replaced by an empty one; if the chain mines the payment first, the row stays paid."
            );
            Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Success, &text))
        }
        Err(AppError::Conflict(m)) => Ok(see_other_with_flash(&authed.ctx, &location, FlashKind::Error, &m)),
        Err(e) => Err(e),
    }
}
