//! Pure types and rules, no I/O.

pub mod account;
pub mod validation;

pub use validation::FieldErrors;
