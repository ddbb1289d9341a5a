//! Pure types and rules, no I/O.

pub mod account;
pub mod address;
pub mod asset;
pub mod event;
pub mod fee;
pub mod fiat;
pub mod journal;
pub mod ledger;
pub mod lookalike;
pub mod money;
pub mod notice;
pub mod outbound;
pub mod payee;
pub mod payout;
pub mod proof;
pub mod registry;
pub mod sanctions;
pub mod second_factor;
pub mod spend_limit;
#[macro_use]
pub mod stored;
pub mod spreadsheet;
pub mod threshold;
pub mod validation;
pub mod words;
pub mod zone;

pub use address::Address;
pub use asset::Asset;
pub use money::Amount;
pub use validation::FieldErrors;
