//! Payouts owns the payout lifecycle: create, review and quote, drafts and the registry upload,
//! approvals and the approval policy, schedules, processing and the ledger, the dashboard figures.
//! It may use `payees` and `access`.

mod announce;
pub mod approvals;
pub mod bootstrap;
pub mod create;
pub mod dashboard;
pub mod demo;
pub mod drafts;
pub mod journal;
pub mod ledger;
pub mod limits;
pub mod list;
pub mod paid_totals;
pub mod processor;
pub mod review;
pub mod schedules;
pub mod values;
pub mod verify;
pub mod view;

pub use create::*;
pub use list::*;
pub use view::*;
