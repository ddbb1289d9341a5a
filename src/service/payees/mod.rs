//! Payees owns the book of recipients: address change control, import and export, statements.
//! It may use `access`.

pub mod api;
pub mod csv;
mod mod_body;

pub use mod_body::*;
