//! Payees owns the book of recipients: address change control, import and export, statements.
//! It may use `access`. A swapped address is the classic payroll fraud, and in crypto it cannot
//! be undone: every address is approved by a second person and cools off before it is paid.

pub mod addresses;
pub mod book;
pub mod checks;
pub mod csv;
pub mod known;
pub mod lookalike;
pub mod statement;

pub use crate::domain::payee::{AddressState, MAX_TAG_CHARS, MAX_TAGS, normalize_tags, tag_list};
pub use addresses::*;
pub use book::*;
pub use checks::*;
pub use lookalike::{Lookalike, Whose};
pub use statement::*;
