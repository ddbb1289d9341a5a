//! Portal owns the payee's own side: the links payees are emailed (an invitation, a sign-in
//! link), their sessions — a kind apart from staff sessions, which reach only the payee's own
//! page — the challenges their wallets sign, and the addresses they submit with that proof into
//! the book's change control. It may use `payees`, `compliance` and `access`.

pub mod home;
pub mod links;
pub mod proofs;
pub mod sessions;

use crate::clock::Clock;

/// A signed-in payee: the only person their session speaks for.
#[derive(Debug, Clone)]
pub struct PayeeActor {
    pub org_id: i64,
    pub payee_id: i64,
    pub payee_name: String,
    pub org_name: String,
    pub clock: Clock,
}

impl PayeeActor {
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now()
    }
}
