pub mod api_docs;
pub mod approvals;
pub mod auth;
pub mod dashboard;
pub mod drafts;
pub mod payouts;
pub mod settings;
pub mod settings_org;
