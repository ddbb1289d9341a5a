//! Compliance owns the sanctions lists and the screening of addresses against them: no payout
//! row, payee address or API request may pay an address a list in force holds, and no
//! acknowledgement overrides it. It keeps the lists current (imports, the daily refresh from the
//! operator's addresses) and tells admins when one grows stale. It may use `access`.

pub mod freshness;
pub mod lists;
pub mod refresh;
pub mod screen;

pub use lists::{Imported, Importer, import};
pub use screen::{Listed, SANCTIONED, Screening, listed, mark_rows, mark_rows_at, refuse_listed, screen};
