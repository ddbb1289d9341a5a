//! Compliance owns the sanctions lists and the screening of addresses against them: no payout
//! row, payee address or API request may pay an address a list in force holds, and no
//! acknowledgement overrides it. It may use `access`.

pub mod lists;
pub mod screen;

pub use lists::{Imported, Importer, import};
pub use screen::{Listed, listed, mark_rows, refuse_listed};
