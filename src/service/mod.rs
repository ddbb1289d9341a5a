//! Use cases, one room per context; none sees HTTP. Arrows run one way: `payouts` may use `payees`,
//! `compliance`, `valuation` and `access`, `payees` may use `compliance`, `valuation` and
//! `access`, `portal` (the payee's own side) may use `payees`, `compliance` and `access`,
//! `compliance` and `valuation` may use `access`, `access` uses nothing above
//! `db`/`domain`. Rooms learn
//! of each other's changes from the event stream (`db::events`), which only `outbound` reads.
//! `views` holds the JSON shapes the API and webhooks both send; it uses no room.

pub mod access;
pub mod compliance;
pub mod outbound;
pub mod payees;
pub mod payouts;
pub mod portal;
pub mod valuation;
pub mod views;
