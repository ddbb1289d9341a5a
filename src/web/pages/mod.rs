pub mod auth;
pub mod dashboard;
pub mod settings;
