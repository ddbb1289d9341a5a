pub mod account;
pub mod accounting;
pub mod api_docs;
pub mod approvals;
pub mod auth;
pub mod dashboard;
pub mod draft_payees;
pub mod drafts;
pub mod links;
pub mod mass_review;
pub mod notices;
pub mod payees;
pub mod payouts;
pub mod portal;
pub mod runs;
pub mod schedules;
pub mod security_keys;
pub mod settings;
pub mod settings_compliance;
pub mod settings_org;
pub mod settings_rates;
pub mod settings_security;
pub mod single;

/// Emails of the organization's admins, for pages that must say whom to ask (a deposit, a role).
/// A failed lookup leaves the page without names rather than failing it.
pub async fn admins_of(state: &crate::AppState, authed: &super::context::Authed) -> Vec<String> {
    let org_id = authed.user.org_id;
    state
        .run(move |conn| {
            crate::service::access::users::who_can_any(conn, org_id, &[crate::domain::account::Role::Admin])
        })
        .await
        .unwrap_or_default()
}
