pub mod auth;
pub mod dashboard;
pub mod settings;
pub mod settings_org;
