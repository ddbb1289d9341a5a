//! Payouts owns the payout lifecycle: create, review and quote, drafts and the registry upload,
//! approvals and the approval policy, schedules, claims, processing and the ledger, the dashboard
//! figures.
//! It may use `payees` and `access`.

mod announce;
pub mod approvals;
pub mod bootstrap;
pub mod cancel;
pub mod claims;
pub mod create;
pub mod dashboard;
pub mod demo;
pub mod draft_payees;
pub mod drafts;
pub mod holds;
pub mod ledger;
pub mod limits;
pub mod list;
pub mod paid_totals;
pub mod pricing;
pub mod processor;
pub mod repeat;
pub mod review;
mod rounds;
pub mod schedules;
pub mod verify;
pub mod view;

pub use cancel::*;
pub use create::*;
pub use list::*;
pub use pricing::*;
pub use view::*;
